"""What the index asks of an embedding: newsbot's own are `BatchEmbedding`s; any other
llama-index embedding counts as a model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from llama_index.core import MockEmbedding

from rag.backends.embedding import make_embedding
from rag.settings import Settings
from rag.store.batch_embedding import BatchEmbedding, matches_meaning


class Cached:
    """A wrapper around a batch embedding, as the benchmarks' caches are."""

    def __init__(self, inner: BatchEmbedding) -> None:
        self.inner = inner

    @property
    def by_meaning(self) -> bool:
        return self.inner.by_meaning

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.vectors(texts)


def test_the_hashing_embedding_is_a_batch_embedding_without_meaning() -> None:
    hashing = make_embedding(Settings(embedding_provider="hashing", embedding_dim=64).embedding())
    assert isinstance(hashing, BatchEmbedding)
    assert not matches_meaning(hashing)
    assert isinstance(Cached(hashing), BatchEmbedding)
    assert not matches_meaning(Cached(hashing))  # type: ignore[arg-type]


def test_another_llama_index_embedding_counts_as_a_model() -> None:
    other = MockEmbedding(embed_dim=8)
    assert not isinstance(other, BatchEmbedding)
    assert matches_meaning(other)


def test_no_embedding_matches_nothing() -> None:
    assert not matches_meaning(None)
