"""What the index asks of an embedding beyond `Embedding` (rag/models.py), the part of
llama-index's `BaseEmbedding` the pipeline calls.

newsbot's own embeddings (rag/backends/embedding.py: the bundled model and the hashing
one) embed a whole batch in one call and say whether they match by meaning; any other
llama-index embedding is taken to be a model and goes through llama-index's batching.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from rag.models import Embedding


@runtime_checkable
class BatchEmbedding(Protocol):
    """An embedding with a fast path for many texts, which also tells whether it is a model."""

    @property
    def by_meaning(self) -> bool:
        """Whether it matches texts by meaning (a model), not only by their characters."""
        ...

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings of `texts` (as passages) in one float32 array, one row each."""
        ...


@runtime_checkable
class ReleasesMemory(Protocol):
    """An embedding holding memory for embedding many passages that it can free."""

    def release_memory(self) -> None: ...


def matches_meaning(embedding: Embedding | None) -> bool:
    """Whether `embedding` is a model: not the hashing embedding, and not none at all."""
    if embedding is None:
        return False
    return embedding.by_meaning if isinstance(embedding, BatchEmbedding) else True
