"""Who may write: the data dir's ingest lock, the embedded store's lock, the server lease."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from chromadb.api import ClientAPI

from rag.errors import IngestBusyError
from rag.settings import Settings
from rag.store.locks import (
    LEASE_SUFFIX,
    ChromaLease,
    _this_machine,
    ingest_lock,
    vectors_read_lock,
    vectors_write_lock,
)
from rag.store.vectors import connect
from tests.chroma_server import ChromaServer
from tests.conftest import unique_collection


def test_ingest_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    busy = f"another ingest \\(pid {os.getpid()}\\)"
    with ingest_lock(tmp_path), pytest.raises(IngestBusyError, match=busy), ingest_lock(tmp_path):
        pass
    with ingest_lock(tmp_path):
        pass


def test_readers_open_the_store_only_when_no_ingest_writes_it(tmp_path: Path) -> None:
    with vectors_read_lock(tmp_path) as free:
        assert free  # no lock file yet: nothing ever wrote here
    with vectors_write_lock(tmp_path), vectors_read_lock(tmp_path) as free:
        assert not free
    with vectors_read_lock(tmp_path) as free, vectors_read_lock(tmp_path) as also_free:
        assert free and also_free


@pytest.fixture
def client(chroma_server: ChromaServer, tmp_path: Path) -> ClientAPI:
    return connect(Settings(data_dir=tmp_path, chroma_url=chroma_server.url).chroma())


def plant_lease(client: ClientAPI, collection: str, **metadata: Any) -> None:
    now = time.time()
    values: dict[str, Any] = {
        "holder": "someone-else",
        "machine": "elsewhere/boot",
        "host": "elsewhere",
        "pid": 4242,
        "started": now,
        "renewed": now,
        "ttl": 120.0,
        **metadata,
    }
    client.create_collection(collection + LEASE_SUFFIX, metadata=values)


def dead_pid() -> int:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(process.stdout)


@pytest.mark.slow
class TestChromaLease:
    def test_a_second_ingest_is_refused_naming_the_first(self, client: ClientAPI) -> None:
        collection = unique_collection()
        with (
            ChromaLease(client, collection, "the server"),
            pytest.raises(IngestBusyError) as refused,
        ):
            ChromaLease(client, collection, "the server").acquire()
        message = str(refused.value)
        assert f"pid {os.getpid()} on {socket.gethostname()}" in message
        assert "is writing to the server" in message
        with ChromaLease(client, collection, "the server"):
            pass

    def test_a_live_lease_from_another_machine_holds(self, client: ClientAPI) -> None:
        collection = unique_collection()
        plant_lease(client, collection)
        with pytest.raises(IngestBusyError, match="pid 4242 on elsewhere"):
            ChromaLease(client, collection, "the server").acquire()

    @pytest.mark.parametrize("why", ["expired", "holder died on this machine"])
    def test_a_stale_lease_is_broken(self, client: ClientAPI, why: str) -> None:
        collection = unique_collection()
        if why == "expired":
            plant_lease(client, collection, renewed=time.time() - 600)
        else:
            plant_lease(client, collection, machine=_this_machine(), pid=dead_pid())
        with ChromaLease(client, collection, "the server"):
            lease = client.get_collection(collection + LEASE_SUFFIX)
            assert (lease.metadata or {})["pid"] == os.getpid()

    def test_a_broken_lease_is_noticed_and_left_to_its_new_holder(self, client: ClientAPI) -> None:
        collection = unique_collection()
        lease = ChromaLease(client, collection, "the server")
        lease.acquire()
        try:
            client.delete_collection(collection + LEASE_SUFFIX)
            plant_lease(client, collection)
            lease.renew()
            with pytest.raises(IngestBusyError, match="lost its lease"):
                lease.check()
        finally:
            lease.release()
        remaining = client.get_collection(collection + LEASE_SUFFIX)
        assert (remaining.metadata or {})["holder"] == "someone-else"
