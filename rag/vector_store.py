"""The vector side: the passages' embeddings in a Chroma collection.

Chroma holds only vectors, keyed by passage id: the lexical snapshot is the
catalogue of text, spans and titles. Storing each passage the way llama-index's
ChromaVectorStore does (its text as a document, which Chroma also indexes for
full-text search, and again inside the node metadata) made adding vectors several
times slower, for copies nothing reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import IndexUnavailableError

if TYPE_CHECKING:
    from rag.lexical import PassageRecord

ADD_BATCH = 5000
EMBEDDING_KEY = "newsbot_embedding"
# A smaller HNSW build beam than Chroma's default 100 makes adding vectors several
# times faster (benchmarks/scale.py); searches keep the default beam.
HNSW_EF_CONSTRUCTION = 32


class VectorIndex:
    """A Chroma collection that never computes embeddings itself."""

    def __init__(self, chroma_dir: Path, collection_name: str) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self._collection_name = collection_name
        try:
            self._client = chromadb.PersistentClient(
                path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False)
            )
            self._open_collection()
        except Exception as exc:
            raise IndexUnavailableError(
                f"cannot open the Chroma store in {chroma_dir} ({type(exc).__name__}: {exc}); "
                "run `newsbot ingest --rebuild`"
            ) from exc

    def _open_collection(self) -> None:
        from chromadb.api.collection_configuration import CreateHNSWConfiguration

        hnsw: CreateHNSWConfiguration = {"space": "cosine", "ef_construction": HNSW_EF_CONSTRUCTION}
        self._collection = self._client.get_or_create_collection(
            self._collection_name, embedding_function=None, configuration={"hnsw": hnsw}
        )
        self._batch = min(ADD_BATCH, int(self._client.get_max_batch_size()))

    def reset(self) -> None:
        """Drop every vector by recreating the collection."""
        with contextlib.suppress(Exception):
            self._client.delete_collection(self._collection_name)
        self._open_collection()

    def count(self) -> int:
        return int(self._collection.count())

    def ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def embedding_model(self) -> str | None:
        metadata = self._collection.metadata or {}
        value = metadata.get(EMBEDDING_KEY)
        return str(value) if value else None

    def set_embedding_model(self, name: str) -> None:
        metadata = dict(self._collection.metadata or {})
        if metadata.get(EMBEDDING_KEY) == name:
            return
        metadata[EMBEDDING_KEY] = name
        self._collection.modify(metadata=metadata)

    def add(
        self,
        records: Sequence[PassageRecord],
        embed: Callable[[list[str]], np.ndarray],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Embed and store passages in batches."""
        for offset in range(0, len(records), self._batch):
            batch = records[offset : offset + self._batch]
            vectors = np.asarray(embed([record.text for record in batch]), dtype=np.float32)
            self._collection.add(ids=[record.passage_id for record in batch], embeddings=vectors)
            if progress:
                progress(len(batch))

    def delete(self, passage_ids: Sequence[str]) -> None:
        for offset in range(0, len(passage_ids), self._batch):
            self._collection.delete(ids=list(passage_ids[offset : offset + self._batch]))

    def query(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        """Passage ids and cosine similarities of the `k` nearest passages."""
        if k <= 0:
            return []
        # Straight to the collection, asking for distances only: the passages' text
        # and metadata live in the lexical snapshot, and fetching them from Chroma's
        # SQLite store would cost more than the search itself.
        result = self._collection.query(
            query_embeddings=np.asarray([vector], dtype=np.float32),
            n_results=k,
            include=["distances"],
        )
        ids: list[Any] = result["ids"][0] if result["ids"] else []
        distances: list[Any] = (result["distances"] or [[]])[0]
        return [(str(i), 1.0 - float(d)) for i, d in zip(ids, distances, strict=False)]


def forget_clients() -> None:
    """Make Chroma forget the clients it caches per path, before their files are removed."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
