"""A question's terms and how much a text covers them: by words, near forms included,
or by meaning (the calibrated semantic evidence)."""

from __future__ import annotations

import pytest

from rag.retrieval.query_terms import QueryTerms, semantic_evidence


class TestQueryTermsCoverage:
    def test_exact_terms_weigh_by_idf(self) -> None:
        query = QueryTerms({"tiktok": 3.0, "ban": 1.0})
        assert query.coverage({"tiktok"}) == (0.75, {"tiktok"})

    def test_near_forms_get_partial_credit(self) -> None:
        query = QueryTerms({"storag": 1.0})
        share, found = query.coverage({"storage"})
        assert 0 < share < 1 and found == {"storag"}

    def test_one_letter_arabic_clitic(self) -> None:
        query = QueryTerms({"شراء": 1.0})
        assert query.coverage({"بشراء"})[0] > 0
        assert QueryTerms({"بشراء": 1.0}).coverage({"شراء"})[0] > 0

    def test_unrelated_terms(self) -> None:
        assert QueryTerms({"tiktok": 1.0}).coverage({"amazon", "phone"}) == (0.0, set())


class TestSimilarityEvidence:
    """A similarity's margin over its language's background, as evidence."""

    def test_margins_map_to_zero_to_one(self) -> None:
        assert semantic_evidence(-1.0) == 0.0
        assert semantic_evidence(1.5) == pytest.approx(0.5)
        assert semantic_evidence(9.0) == 1.0
