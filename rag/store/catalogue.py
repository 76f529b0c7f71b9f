"""Where the published lexical snapshot lives, and how a reader finds the newest one.

The snapshot is the catalogue of indexed passages (see rag/store/lexical.py). Publishing one is
a single atomic write; `current()` is a cheap token that changes with every publication,
checked before each question; `load(token)` returns the snapshot it names.

- Embedded store (`LocalCatalogue`): the snapshot is saved in the data dir, and the token
  is the name in its pointer file.
- Chroma server (`ChromaCatalogue`): processes on other machines share the server but not
  the data dir, so the catalogue lives on the server, in a small collection beside the
  vectors: a `current` record (generation, embedding, manifest id) and the manifest, the
  ordered list of passage ids, in parts. A reader rebuilds the BM25 index from the
  passages stored with the vectors (text and catalogue fields in their metadata), reusing
  the passages of the snapshot it already has, and keeps a copy in its data dir so that
  its next start needs no rebuild.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.store.lexical import LexicalIndex, PassageRecord
from rag.store.vectors import VectorIndex

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

CATALOGUE_SUFFIX = ".catalogue"
CURRENT_ID = "current"
MANIFEST_PART = 20_000  # passage ids per manifest record (~660 kB)
CATALOGUE_FORMAT = 2  # 2: passages carry their words, for the n-gram index


class CatalogueChanged(Exception):
    """The snapshot named by a token was replaced while it was being read."""


class Catalogue(Protocol):
    def current(self) -> str | None:
        """A token that changes with every publication; None if nothing was published."""
        ...

    def load(self, token: str, previous: LexicalIndex | None) -> LexicalIndex:
        """The snapshot `token` names. Raises CatalogueChanged, ValueError, OSError or
        KeyError if it cannot be read (replaced meanwhile, or broken: the caller tells them
        apart by checking whether `current()` moved on)."""
        ...

    def publish(self, snapshot: LexicalIndex) -> str:
        """Make `snapshot` the current one, atomically; returns its token."""
        ...


class LocalCatalogue:
    """The snapshot in the data dir, published by replacing its pointer file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def current(self) -> str | None:
        return LexicalIndex.current_name(self.root)

    def load(self, token: str, previous: LexicalIndex | None) -> LexicalIndex:
        snapshot = LexicalIndex.load(self.root, name=token)
        if snapshot is None:  # pragma: no cover - `name` is given
            raise CatalogueChanged(f"the snapshot {token} is gone")
        return snapshot

    def publish(self, snapshot: LexicalIndex) -> str:
        return snapshot.save(self.root).name


class ChromaCatalogue:
    """The catalogue on a Chroma server, in the collection `<collection>.catalogue`."""

    def __init__(self, client: ClientAPI, vectors: VectorIndex, name: str, cache: Path) -> None:
        self._client = client
        self._vectors = vectors
        self._name = name + CATALOGUE_SUFFIX
        self._cache = cache
        self._collection: Collection | None = None

    def _records(self) -> Collection:
        if self._collection is None:
            # One-dimensional placeholder vectors: Chroma wants one per record.
            self._collection = self._client.get_or_create_collection(
                self._name, embedding_function=None
            )
        return self._collection

    def _state(self) -> dict[str, object] | None:
        with self._vectors.calling():
            result = self._records().get(ids=[CURRENT_ID], include=["documents"])
        documents = result["documents"] or []
        if not documents:
            return None
        state: dict[str, object] = json.loads(documents[0])
        return state

    def current(self) -> str | None:
        state = self._state()
        return None if state is None else json.dumps(state, sort_keys=True)

    def load(self, token: str, previous: LexicalIndex | None) -> LexicalIndex:
        state = json.loads(token)
        if state.get("format") != CATALOGUE_FORMAT:
            raise ValueError(f"catalogue format {state.get('format')} is not {CATALOGUE_FORMAT}")
        manifest = str(state["manifest"])
        cached = self._cached(manifest)
        if cached is not None:
            return cached
        parts = int(str(state["parts"]))
        part_ids = [f"manifest:{manifest}:{part}" for part in range(parts)]
        with self._vectors.calling():
            result = self._records().get(ids=part_ids, include=["documents"])
        documents = dict(zip(result["ids"], result["documents"] or [], strict=True))
        if len(documents) != parts:
            raise CatalogueChanged(f"the manifest {manifest} is gone")
        passage_ids = [pid for part in part_ids for pid in documents[part].split("\n") if pid]
        known = {record.passage_id: record for record in previous.records} if previous else {}
        fetched = self._vectors.records([pid for pid in passage_ids if pid not in known])
        records: list[PassageRecord] = []
        for passage_id in passage_ids:
            record = known.get(passage_id) or fetched.get(passage_id)
            if record is None:  # deleted by a later ingest, or lost
                raise CatalogueChanged(f"the passage {passage_id} is missing")
            records.append(record)
        snapshot = LexicalIndex.build(records, embedding=str(state["embedding"]))
        if snapshot.generation != state["generation"]:
            raise ValueError("the passages on the server do not match the catalogue")
        self._keep(manifest, snapshot)
        return snapshot

    def _cached(self, manifest: str) -> LexicalIndex | None:
        try:
            return LexicalIndex.load(self._cache / manifest)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _keep(self, manifest: str, snapshot: LexicalIndex) -> None:
        """Keep a copy of the snapshot of `manifest` in the data dir, dropping older ones.

        Several processes on this machine may do this at once: it is only a copy, and a
        copy that cannot be read is rebuilt from the server.
        """
        try:
            snapshot.save(self._cache / manifest)
            for path in self._cache.iterdir():
                if path.name != manifest:
                    shutil.rmtree(path, ignore_errors=True)
        except OSError as exc:
            log.info("not caching the lexical index in %s: %s", self._cache, exc)

    def publish(self, snapshot: LexicalIndex) -> str:
        manifest = f"{snapshot.generation}-{uuid.uuid4().hex[:8]}"
        passage_ids = [record.passage_id for record in snapshot.records]
        parts = [
            "\n".join(passage_ids[offset : offset + MANIFEST_PART])
            for offset in range(0, max(len(passage_ids), 1), MANIFEST_PART)
        ]
        state = {
            "format": CATALOGUE_FORMAT,
            "generation": snapshot.generation,
            "embedding": snapshot.embedding,
            "passages": len(passage_ids),
            "manifest": manifest,
            "parts": len(parts),
            "published_by": f"pid {os.getpid()} on {socket.gethostname()}",
            "published_at": round(time.time(), 3),
        }
        with self._vectors.calling(writing=True):
            records = self._records()
            records.upsert(
                ids=[f"manifest:{manifest}:{number}" for number in range(len(parts))],
                documents=parts,
                embeddings=np.ones((len(parts), 1), dtype=np.float32),
                metadatas=[{"manifest": manifest, "part": number} for number in range(len(parts))],
            )
            # The single write that publishes.
            records.upsert(
                ids=[CURRENT_ID],
                documents=[json.dumps(state)],
                embeddings=np.ones((1, 1), dtype=np.float32),
                metadatas=[{"manifest": manifest}],
            )
            older: Any = {"manifest": {"$ne": manifest}}
            records.delete(where=older)
        self._keep(manifest, snapshot)
        return json.dumps(state, sort_keys=True)
