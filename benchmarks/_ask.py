"""The warm answer as a reader gets it: one `newsbot ask --json -` process, fed questions
one at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from time import perf_counter

NEWSBOT = Path(sys.executable).with_name("newsbot")


def ask_json_seconds(env: Mapping[str, str], questions: Sequence[str], warm_up: int) -> list[float]:
    """Seconds from writing each question to one `newsbot ask --json -` process (run with
    `env`) to reading its answer line; the first `warm_up` left out."""
    process = subprocess.Popen(
        [str(NEWSBOT), "ask", "--json", "-"],
        env=dict(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    assert process.stdin and process.stdout
    seconds: list[float] = []
    for question in questions:
        started = perf_counter()
        process.stdin.write(question.replace("\n", " ") + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            sys.exit(f"newsbot ask --json - ended early ({process.wait()})")
        json.loads(line)
        seconds.append(perf_counter() - started)
    process.stdin.close()
    process.wait()
    return seconds[warm_up:]
