"""The part every stand-in shares: a real HTTP server on 127.0.0.1, scripted per test.

A test sets `responder` (a function from the recorded request to a `Reply`); the server
records every request (path, headers, JSON body) for the test to inspect. A reply can
hold back (all of it, or the rest of a stream) until the test releases it, which is how
the tests drive timeouts and slow streams without sleeping. A reply can also trickle
(`interval`), as a slow model does; the server then says whether the client stayed to the
end (`replies_sent`) or went away in the middle (`disconnected`).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prompts import load_prompt
from rag.backends.embedding import hashed_ngram_vector

STANDIN_EMBEDDING_DIM = 64
HOLD_LIMIT_SECONDS = 30  # a held reply is released at the latest by close(); this is a backstop
TRICKLE_SLICES = 40  # a whole (non-streamed) reply that trickles comes in this many slices


@dataclass
class Reply:
    """What the stand-in answers to one request."""

    text: str = ""
    chunks: list[str] | None = None  # streamed pieces; default: `text` cut into words
    status: int = 200
    error: str = "stand-in error"  # the error message of a non-200 reply
    raw_body: bytes | None = None  # sent as it is, instead of a well-formed reply
    hold: threading.Event | None = None  # wait for it before sending anything
    hold_after: int | None = None  # with `hold`: stream this many chunks first, then wait
    interval: float = 0.0  # seconds between pieces (or slices of a whole reply): a slow model

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return self.chunks
        words = self.text.split(" ")
        return [word + " " for word in words[:-1]] + words[-1:]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    def system(self) -> str:
        return "\n".join(
            str(m.get("content", "")) for m in self.messages() if m.get("role") == "system"
        )

    def user(self) -> str:
        return "\n".join(
            str(m.get("content", "")) for m in self.messages() if m.get("role") == "user"
        )

    def prompt_kind(self) -> str:
        """Which of newsbot's prompts this is: answer, rewrite or translate."""
        system = self.system()
        for kind in ("answer", "rewrite", "translate"):
            if load_prompt(f"{kind}.system").splitlines()[0] in system:
                return kind
        return "unknown"


def default_embed(text: str) -> list[float]:
    vector: list[float] = hashed_ngram_vector(text, STANDIN_EMBEDDING_DIM).tolist()
    return vector


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return  # the client gave up (a timeout test): nothing to report
        super().handle_error(request, client_address)


class StandInServer:
    """A threaded HTTP server on 127.0.0.1 with a free port; use as a context manager."""

    handler_class: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.responder: Callable[[Request], Reply] = lambda request: Reply(text="")
        self.embed: Callable[[str], list[float]] = default_embed
        self._holds: list[threading.Event] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        # Chat replies written to the end, and whether a client left one in the middle.
        self.replies_sent = 0
        self._replies_counted = threading.Condition(self._lock)
        self.disconnected = threading.Event()
        server = self

        class Handler(self.handler_class):  # type: ignore[name-defined,misc]
            standin = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
        try:
            reply = self.responder(request)
        except Exception as exc:  # a broken script: say so rather than drop the connection
            reply = Reply(status=500, error=f"stand-in script failed: {exc!r}")
        if reply.hold is not None:
            with self._lock:
                self._holds.append(reply.hold)
        return reply

    def pause(self, seconds: float) -> None:
        """Wait between the pieces of a trickling reply (cut short when the server closes)."""
        self._closing.wait(seconds)

    def reply_sent(self) -> None:
        with self._replies_counted:
            self.replies_sent += 1
            self._replies_counted.notify_all()

    def wait_for_replies(self, count: int, timeout: float = 10.0) -> bool:
        """Whether `count` replies have been written to the end within `timeout`: the
        count moves after the client already has its reply."""
        with self._replies_counted:
            return self._replies_counted.wait_for(lambda: self.replies_sent >= count, timeout)

    def kinds(self) -> list[str]:
        return [r.prompt_kind() for r in self.requests if r.messages()]

    def __enter__(self) -> StandInServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            for hold in self._holds:
                hold.set()
        self._httpd.shutdown()
        self._httpd.server_close()


class JSONHandler(BaseHTTPRequestHandler):
    """Reads a JSON body, records the request, and offers the writing helpers."""

    standin: StandInServer
    server_version = "newsbot-standin/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            self.standin.disconnected.set()  # the client closed the connection mid-reply

    def read_request(self) -> tuple[Request, Reply]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        headers = {key.lower(): value for key, value in self.headers.items()}
        request = Request(path=self.path, headers=headers, body=body)
        reply = self.standin.record(request)
        if reply.hold is not None and reply.hold_after is None:
            reply.hold.wait(HOLD_LIMIT_SECONDS)
        return request, reply

    def send_json(self, status: int, payload: object, *, interval: float = 0.0) -> None:
        self.send_bytes(status, json.dumps(payload).encode(), "application/json", interval)

    def send_bytes(
        self, status: int, body: bytes, content_type: str, interval: float = 0.0
    ) -> None:
        """Send `body`; with an `interval`, in TRICKLE_SLICES slices that far apart."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not interval:
            self.wfile.write(body)
            return
        step = -(-len(body) // TRICKLE_SLICES)
        for start in range(0, len(body), step):
            if start:
                self.standin.pause(interval)
            self.wfile.write(body[start : start + step])
            self.wfile.flush()

    def start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def stream_pieces(self, reply: Reply, write_piece: Callable[[str], None]) -> None:
        for number, piece in enumerate(reply.pieces()):
            if reply.hold is not None and reply.hold_after == number:
                reply.hold.wait(HOLD_LIMIT_SECONDS)
            if reply.interval and number:
                self.standin.pause(reply.interval)
            write_piece(piece)
            self.wfile.flush()


@dataclass
class Script:
    """A responder that answers each prompt kind from a table, for the common case."""

    answer: Reply | Callable[[Request], Reply] = field(default_factory=Reply)
    rewrite: Reply | Callable[[Request], Reply] = field(default_factory=Reply)
    translate: Reply | Callable[[Request], Reply] = field(default_factory=Reply)

    def __call__(self, request: Request) -> Reply:
        choice = getattr(self, request.prompt_kind(), None) or Reply()
        return choice(request) if callable(choice) else choice
