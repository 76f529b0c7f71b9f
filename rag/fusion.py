"""Fusing the passage rankings of one question asked in several languages."""

from __future__ import annotations

from collections.abc import Sequence

from rag.models import RetrievedPassage
from rag.retrieve import reciprocal_rank_fusion


def fuse_passage_rankings(
    rankings: Sequence[Sequence[RetrievedPassage]], k: int
) -> list[RetrievedPassage]:
    """The `k` best passages of several rankings, by reciprocal rank.

    A passage's evidence is the best it had in any ranking: an Arabic passage is
    judged against the Arabic translation of the question, not the English original.
    """
    by_id: dict[str, RetrievedPassage] = {}
    rows: dict[str, int] = {}
    row_rankings = []
    for ranking in rankings:
        ranked_rows = []
        for passage in ranking:
            row = rows.setdefault(passage.passage_id, len(rows))
            ranked_rows.append(row)
            known = by_id.get(passage.passage_id)
            if known is None or passage.evidence > known.evidence:
                by_id[passage.passage_id] = passage
        row_rankings.append((ranked_rows, 1.0))
    fused = reciprocal_rank_fusion(row_rankings)
    ids = list(rows)
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [by_id[ids[row]].model_copy(update={"score": score}) for row, score in best]
