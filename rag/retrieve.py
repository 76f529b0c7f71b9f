"""Hybrid retrieval: lexical and vector rankings fused by reciprocal rank."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.analysis import analyzer_for
from rag.models import RetrievedPassage

if TYPE_CHECKING:
    from rag.index import NewsIndex
    from rag.lexical import LexicalIndex

RRF_K = 60
RELATED_CREDIT = 0.6
_ARABIC_CLITICS = frozenset("بلكف")


def _related(query_term: str, terms: Collection[str]) -> bool:
    """Whether a passage term is a near form of the query term.

    Stems of one word in two languages or two inflections ("storag"/"store",
    "بشراء"/"شراء") often share a long prefix or differ by a one-letter clitic.
    """
    if len(query_term) >= 4:
        prefix = query_term[: max(4, len(query_term) - 2)]
        if any(
            term.startswith(prefix) or (len(term) >= 4 and query_term.startswith(term))
            for term in terms
        ):
            return True
    if query_term[:1] in _ARABIC_CLITICS and query_term[1:] in terms:
        return True
    return any(term[:1] in _ARABIC_CLITICS and term[1:] == query_term for term in terms)


@dataclass(frozen=True)
class QueryTerms:
    """A question's distinct terms with their weights (inverse document frequencies)."""

    weights: dict[str, float]

    @classmethod
    def of(cls, terms: Sequence[str], idf: Callable[[str], float]) -> QueryTerms:
        return cls({term: idf(term) for term in dict.fromkeys(terms)})

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def coverage(self, terms: Collection[str]) -> tuple[float, set[str]]:
        """Weighted share of the question's terms found in `terms`, and which were found."""
        total = self.total
        if total <= 0:
            return 0.0, set()
        found: set[str] = set()
        score = 0.0
        for term, weight in self.weights.items():
            if term in terms:
                score += weight
                found.add(term)
            elif _related(term, terms):
                score += RELATED_CREDIT * weight
                found.add(term)
        return score / total, found


def reciprocal_rank_fusion(
    rankings: Sequence[tuple[Sequence[int], float]], k: int = RRF_K
) -> dict[int, float]:
    """Fuse ranked lists of rows, each with a weight, into one score per row."""
    fused: dict[int, float] = {}
    for rows, weight in rankings:
        for rank, row in enumerate(rows):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank + 1)
    return fused


class HybridRetriever:
    """Finds the passages that best answer a question."""

    def __init__(
        self,
        index: NewsIndex,
        *,
        candidates: int,
        lexical_weight: float,
        vector_weight: float,
    ) -> None:
        self.index = index
        self.candidates = candidates
        self.lexical_weight = lexical_weight
        self.vector_weight = vector_weight

    def query_terms(self, question: str, language: str, snapshot: LexicalIndex) -> QueryTerms:
        return QueryTerms.of(analyzer_for(language).terms(question), snapshot.idf)

    def retrieve(
        self, question: str, language: str, k: int
    ) -> tuple[list[RetrievedPassage], QueryTerms]:
        snapshot = self.index.snapshot()
        query = self.query_terms(question, language, snapshot)
        if not len(snapshot):
            return [], query
        lexical_rows = [row for row, _ in snapshot.search(list(query.weights), self.candidates)]
        rankings: list[tuple[Sequence[int], float]] = [(lexical_rows, self.lexical_weight)]
        if self.vector_weight > 0:
            vector = self.index.embedding.get_query_embedding(question)
            hits = self.index.vector.query(vector, self.candidates)
            vector_rows = [snapshot.row_of[pid] for pid, _ in hits if pid in snapshot.row_of]
            rankings.append((vector_rows, self.vector_weight))
        fused = reciprocal_rank_fusion(rankings)
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        passages = []
        for row, score in best:
            record = snapshot.records[row]
            evidence, _ = query.coverage(set(record.term_list()))
            passages.append(
                RetrievedPassage(
                    passage_id=record.passage_id,
                    source=record.source,
                    title=record.title,
                    language=record.language,
                    text=record.text,
                    start=record.start,
                    end=record.end,
                    score=score,
                    evidence=evidence if not math.isnan(evidence) else 0.0,
                )
            )
        return passages, query
