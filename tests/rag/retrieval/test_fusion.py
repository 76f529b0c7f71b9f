from __future__ import annotations

import pytest

from rag.models import RetrievedPassage
from rag.retrieval.fusion import fuse_passage_rankings, reciprocal_rank_fusion


def passage(pid: str, evidence: float) -> RetrievedPassage:
    return RetrievedPassage(
        passage_id=pid,
        source=f"{pid}.txt",
        title=pid,
        language="en",
        text=pid,
        start=0,
        end=1,
        score=evidence * 10,
        evidence=evidence,
    )


def test_votes_are_weighted_by_evidence_and_the_best_evidence_is_kept() -> None:
    english = [passage("a", 0.2), passage("b", 0.1), passage("c", 0.05)]
    arabic = [passage("d", 0.9), passage("b", 0.7)]
    fused = fuse_passage_rankings([english, arabic], k=3)
    assert [p.passage_id for p in fused] == ["d", "b", "a"]
    assert [p.evidence for p in fused] == [0.9, 0.7, 0.2]
    # Ranked by their votes, 0.95/61 for d and 0.15/62 + 0.75/62 for b, each passage keeps
    # the retriever's score of the ranking it had the best evidence in.
    assert [p.score for p in fused] == pytest.approx([9.0, 7.0, 2.0])


def test_near_misses_in_one_language_do_not_outvote_a_hit_in_another() -> None:
    english = [passage(f"en{i}", 0.1) for i in range(10)]
    arabic = [passage("ar-hit", 0.9), *english[:5]]
    fused = fuse_passage_rankings([english, arabic], k=5)
    assert fused[0].passage_id == "ar-hit"


def test_single_ranking_keeps_its_order() -> None:
    ranking = [passage(name, 0.5) for name in "xyz"]
    assert [p.passage_id for p in fuse_passage_rankings([ranking], k=2)] == ["x", "y"]
    assert fuse_passage_rankings([], k=5) == []


def test_reciprocal_rank_fusion_weights_rankings() -> None:
    fused = reciprocal_rank_fusion([([1, 2], 1.0), ([2, 3], 0.5)], k=0)
    assert fused == {1: 1.0, 2: 0.5 + 0.5, 3: 0.25}
