"""Who may write the index, and when a reader may open the embedded vector store.

- `ingest_lock`: one ingest per data dir (flock, refused at once with a clear line).
- `vectors_write_lock` / `vectors_read_lock`: in the embedded store, opening Chroma while
  another process writes it fails (Chroma applies its write-ahead log to the HNSW index on
  open), so an ingest holds the lock exclusively while it writes, and readers open the
  store only when they get it shared, without waiting.
- `ChromaLease`: on a Chroma server shared by several machines, a data-dir lock serialises
  nothing, so an ingest also holds a lease: a collection `<collection>.ingest-lease` whose
  creation is atomic on the server (a second create fails). The lease is renewed while the
  ingest runs; a lease whose holder stopped renewing it for `ttl` seconds, or whose holder
  process is gone from this machine, is broken by the next ingest.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rag.errors import IndexUnavailableError, IngestBusyError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

log = logging.getLogger(__name__)

INGEST_LOCK_FILE = ".ingest.lock"
VECTORS_LOCK_FILE = ".vectors.lock"
LEASE_SUFFIX = ".ingest-lease"
LEASE_TTL_SECONDS = 120.0


def _open_lock(path: Path) -> IO[str]:
    try:
        return path.open("a+")
    except OSError as exc:
        raise IndexUnavailableError(
            f"cannot write to the data directory {path.parent} ({exc.strerror or exc}); "
            "set NEWSBOT_DATA_DIR to a writable folder"
        ) from exc


@contextlib.contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's ingest lock, or raise IngestBusyError at once."""
    with _open_lock(data_dir / INGEST_LOCK_FILE) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise IngestBusyError(
                f"another ingest ({holder}) is writing to {data_dir}; "
                "wait for it to finish, then run this one again"
            ) from None
        with contextlib.suppress(OSError):  # who holds it is only for messages
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def vectors_write_lock(data_dir: Path) -> Iterator[None]:
    """Hold the embedded store exclusively (waits for readers that are opening it)."""
    with _open_lock(data_dir / VECTORS_LOCK_FILE) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def vectors_read_lock(data_dir: Path) -> Iterator[bool]:
    """Try to hold the embedded store shared, without waiting; yields whether it did."""
    try:
        handle = (data_dir / VECTORS_LOCK_FILE).open("r")
    except FileNotFoundError:
        yield True  # no ingest ever ran with this code here
        return
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _this_machine() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class ChromaLease:
    """An exclusive, renewed lease on ingesting into one collection of a Chroma server."""

    def __init__(
        self,
        client: ClientAPI,
        collection: str,
        where: str,
        *,
        ttl: float = LEASE_TTL_SECONDS,
    ) -> None:
        self._client = client
        self._name = collection + LEASE_SUFFIX
        self._where = where
        self._ttl = ttl
        self._holder = uuid.uuid4().hex
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False
        self._started = 0.0

    def _metadata(self, started: float) -> dict[str, Any]:
        return {
            "holder": self._holder,
            "machine": _this_machine(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": started,
            "renewed": time.time(),
            "ttl": self._ttl,
        }

    def _is_stale(self, metadata: dict[str, Any]) -> bool:
        if time.time() - float(metadata.get("renewed", 0)) > float(metadata.get("ttl", 0)):
            return True
        same_machine = metadata.get("machine") == _this_machine()
        return same_machine and _process_gone(int(metadata.get("pid", 0)))

    def _create(self, started: float) -> bool:
        try:
            self._client.create_collection(
                self._name, metadata=self._metadata(started), embedding_function=None
            )
        except Exception as exc:
            if "already exists" in str(exc):
                return False
            raise
        return True

    def acquire(self) -> None:
        from chromadb.errors import NotFoundError

        started = time.time()
        for _ in range(3):
            if self._create(started):
                break
            try:
                current = dict(self._client.get_collection(self._name).metadata or {})
            except NotFoundError:
                continue  # released in the meantime
            if not self._is_stale(current):
                age = max(0, round(time.time() - float(current.get("started", time.time()))))
                raise IngestBusyError(
                    f"another ingest (pid {current.get('pid')} on {current.get('host')}, "
                    f"started {age} s ago) is writing to {self._where}; "
                    "wait for it to finish, then run this one again"
                )
            log.warning(
                "breaking the ingest lease of pid %s on %s: it stopped renewing it",
                current.get("pid"),
                current.get("host"),
            )
            with contextlib.suppress(NotFoundError):
                self._client.delete_collection(self._name)
        else:
            raise IngestBusyError(
                f"other ingests keep starting on {self._where}; "
                "wait for them to finish, then run this one again"
            )
        self._started = started
        self._renewer = threading.Thread(target=self._keep_renewing, name="newsbot-lease")
        self._renewer.daemon = True
        self._renewer.start()

    def _keep_renewing(self) -> None:
        while not self._stop.wait(self._ttl / 4) and not self.lost:
            try:
                self.renew()
            except Exception as exc:
                log.warning("could not renew the ingest lease: %s", exc)

    def renew(self) -> None:
        """Push the lease's expiry back, or note that another ingest broke it."""
        lease = self._client.get_collection(self._name)
        if (lease.metadata or {}).get("holder") != self._holder:
            self.lost = True
            return
        lease.modify(metadata=self._metadata(self._started))

    def check(self) -> None:
        """Raise IngestBusyError if another ingest broke this lease."""
        if self.lost:
            raise IngestBusyError(
                f"this ingest lost its lease on {self._where} (it could not renew it for "
                f"{self._ttl:.0f} s) and stopped before publishing; run it again"
            )

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        with contextlib.suppress(Exception):
            lease = self._client.get_collection(self._name)
            if (lease.metadata or {}).get("holder") == self._holder:
                self._client.delete_collection(self._name)

    def __enter__(self) -> ChromaLease:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
