"""An ingest in its own process that stops at chosen progress stages until told to go on.

    python tests/ingest_driver.py [--pause-at STAGE ...] [PATH ...]

Settings come from NEWSBOT_* variables. Writes one JSON object per line on stdout:
{"event": "paused", "stage": ...} when it reaches a pause stage (then waits for a line on
stdin), {"event": "done", "report": {...}} or {"event": "error", "message": ...}. Stages
are the engine's progress stages: "read", "embed" (new vectors stored, nothing published
yet), "delete" (the new snapshot is published, stale vectors not yet deleted). Each pause
happens once, at the first report of its stage. Used by tests/processes.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.engine import Engine
from rag.errors import NewsbotError


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause-at", action="append", default=[])
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("paths", nargs="*", type=Path)
    options = parser.parse_args()
    pauses = set(options.pause_at)

    def progress(stage: str, done: int, total: int) -> None:
        if stage in pauses:
            pauses.discard(stage)
            emit(event="paused", stage=stage, done=done, total=total)
            sys.stdin.readline()

    try:
        engine = Engine()
        report = engine.ingest(options.paths or None, rebuild=options.rebuild, progress=progress)
    except NewsbotError as exc:
        emit(event="error", message=str(exc), kind=type(exc).__name__)
        return 1
    emit(event="done", report=report.model_dump())
    return 0


if __name__ == "__main__":
    sys.exit(main())
