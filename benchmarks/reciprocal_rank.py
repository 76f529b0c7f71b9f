"""Reciprocal rank fusion of the word rankings: the fusion newsbot used before its scores
were fused (benchmarks/TUNING.md, "Fusion"), kept as the tuning's reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.retrieval.hybrid import HybridRetriever, top_rows

if TYPE_CHECKING:
    import numpy as np

    from rag.retrieval.query_terms import QueryTerms
    from rag.store.lexical import LexicalIndex


class ReciprocalRankRetriever(HybridRetriever):
    """newsbot's retriever without a model, its rankings fused by reciprocal rank over
    each one's best `candidates` (no coverage, no proximity)."""

    def fuse_word_rankings(
        self,
        rankings: list[tuple[np.ndarray, float]],
        query: QueryTerms,
        snapshot: LexicalIndex,
        k: int,
    ) -> list[tuple[int, float]]:
        depth = max(self.config.candidates, k)
        fused = reciprocal_rank_fusion(
            [(top_rows(scores, depth), weight) for scores, weight in rankings]
        )
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
