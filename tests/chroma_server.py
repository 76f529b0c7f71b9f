"""A real `chroma run` server on 127.0.0.1, for tests and benchmarks.

    with ChromaServer(tmp_path / "chroma") as server:
        settings = Settings(chroma_url=server.url, ...)

Started from the project's virtual environment, on a free port, with telemetry off; ready
once its heartbeat answers; stopped by its pid (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

CHROMA = Path(sys.executable).with_name("chroma")
READY_ATTEMPTS = 300  # × up to 0.1 s of waiting for the process to exit
STOP_SECONDS = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ChromaServer:
    """One `chroma run --path PATH --host 127.0.0.1 --port PORT` process."""

    def __init__(
        self, path: Path, port: int | None = None, *, max_payload_bytes: int | None = None
    ) -> None:
        self.path = path
        self.port = port or free_port()
        # The server's request size limit (its default is 40 MiB), set through a config file.
        self.max_payload_bytes = max_payload_bytes
        self.process: subprocess.Popen[bytes] | None = None
        self.log = path.parent / f"{path.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(CHROMA), "run", *self._arguments()],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self._wait_ready()

    def _arguments(self) -> list[str]:
        if self.max_payload_bytes is None:
            return ["--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]
        config = self.path.parent / f"{self.path.name}-config.yaml"
        config.write_text(
            f"persist_path: {json.dumps(str(self.path))}\n"
            "listen_address: 127.0.0.1\n"
            f"port: {self.port}\n"
            f"max_payload_size_bytes: {self.max_payload_bytes}\n",
            encoding="utf-8",
        )
        return [str(config)]

    def _wait_ready(self) -> None:
        assert self.process is not None
        for _ in range(READY_ATTEMPTS):
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            try:
                code = self.process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"chroma run exited with {code}; see {self.log}")
        self.stop()
        raise RuntimeError(f"chroma run did not answer on {self.url}; see {self.log}")

    def kill(self) -> None:
        """Stop the server abruptly, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
