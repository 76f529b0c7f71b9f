"""Other newsbot processes for tests: a pausable ingest, and a long-lived `newsbot ask -`.

Their output is read by a thread into a queue, so that a test waits for each line with a
time limit instead of hanging if the process misbehaves.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("ingest_driver.py")
PROJECT_ROOT = DRIVER.parent.parent
EVENT_TIMEOUT = 120.0


class _LineReader:
    """JSON lines from a process's stdout, each waited for with a time limit."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, command: list[str], env: dict[str, str]) -> _LineReader:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return cls(process)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def next(self) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=EVENT_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"the process said nothing for {EVENT_TIMEOUT} s") from None
        if line is None:
            self.process.wait()
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(
                f"the process ended (exit {self.process.returncode}): {stderr[-2000:]}"
            )
        return line

    def close(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class IngestProcess:
    """`with IngestProcess(env, pause_at=["embed"]) as ingest: ingest.wait_paused("embed")`."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        pause_at: Sequence[str] = (),
        paths: Sequence[Path] = (),
        rebuild: bool = False,
    ) -> None:
        command = [sys.executable, str(DRIVER)]
        for stage in pause_at:
            command += ["--pause-at", stage]
        if rebuild:
            command.append("--rebuild")
        command += [str(path) for path in paths]
        self._events = _LineReader.start(command, {**env, "PYTHONPATH": str(PROJECT_ROOT)})
        self.process = self._events.process

    def wait_paused(self, stage: str) -> dict[str, Any]:
        event = self._events.next()
        assert event.get("event") == "paused" and event.get("stage") == stage, event
        return event

    def resume(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        """The final event ("done" with the report, or "error"), once the process ended."""
        event = self._events.next()
        assert event["event"] in ("done", "error"), event
        self.process.wait(timeout=EVENT_TIMEOUT)
        return event

    def kill(self) -> None:
        """SIGKILL, as an out-of-memory killer or a power cut would."""
        self._events.close()

    def __enter__(self) -> IngestProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._events.close()


class AskProcess:
    """A long-lived `newsbot ask --json -`: one question in, one JSON object out."""

    def __init__(self, env: dict[str, str]) -> None:
        newsbot = str(Path(sys.executable).with_name("newsbot"))
        self._answers = _LineReader.start([newsbot, "ask", "--json", "-"], env)
        self.process = self._answers.process

    def ask(self, question: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        return self._answers.next()

    def __enter__(self) -> AskProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._answers.close()
