"""The vector side: passages with their embeddings in Chroma, through llama-index."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexUnavailableError

if TYPE_CHECKING:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.lexical import PassageRecord

ADD_BATCH = 1000
EMBEDDING_KEY = "newsbot_embedding"


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
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self._collection = self._client.get_or_create_collection(
            self._collection_name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )
        self.store: ChromaVectorStore = ChromaVectorStore(chroma_collection=self._collection)

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
        embed: Callable[[list[str]], list[list[float]]],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Embed and store passages in batches."""
        from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode

        for offset in range(0, len(records), ADD_BATCH):
            batch = records[offset : offset + ADD_BATCH]
            vectors = embed([record.text for record in batch])
            nodes: list[BaseNode] = [
                TextNode(
                    id_=record.passage_id,
                    text=record.text,
                    embedding=vector,
                    metadata={
                        "source": record.source,
                        "title": record.title,
                        "language": record.language,
                        "start": record.start,
                        "end": record.end,
                    },
                    relationships={
                        NodeRelationship.SOURCE: RelatedNodeInfo(node_id=record.article_id)
                    },
                )
                for record, vector in zip(batch, vectors, strict=True)
            ]
            self.store.add(nodes)
            if progress:
                progress(len(batch))

    def delete(self, passage_ids: Sequence[str]) -> None:
        for offset in range(0, len(passage_ids), ADD_BATCH):
            self.store.delete_nodes(list(passage_ids[offset : offset + ADD_BATCH]))

    def query(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        """Passage ids and similarities of the `k` nearest passages."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        if k <= 0:
            return []
        k = min(k, self.count())
        if k == 0:
            return []
        result = self.store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=k))
        ids = result.ids or []
        similarities: list[Any] = list(result.similarities or [0.0] * len(ids))
        return [(str(i), float(s)) for i, s in zip(ids, similarities, strict=False)]


def forget_clients() -> None:
    """Make Chroma forget the clients it caches per path, before their files are removed."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
