"""Hybrid retrieval: lexical, n-gram and vector rankings fused, then re-ranked by proximity."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from rag.analysis import analyzer_for
from rag.models import RetrievedPassage

if TYPE_CHECKING:
    from rag.index import NewsIndex
    from rag.lexical import LexicalIndex

RRF_K = 60
RELATED_CREDIT = 0.6
# Chosen on the tuning split with benchmarks/tune.py, like the weights in Settings.
COVERAGE_WEIGHT = 0.9
PROXIMITY_WEIGHT = 0.7
PROXIMITY_WINDOW = 10
_ARABIC_CLITICS = frozenset("بلكف")


def _related(query_term: str, terms: Collection[str], prefixes: dict[int, set[str]]) -> bool:
    """Whether a passage term is a near form of the query term.

    Stems of one word in two languages or two inflections ("storag"/"store",
    "بشراء"/"شراء") often share a long prefix or differ by a one-letter clitic.
    `prefixes` caches the passage terms' prefixes by length, for this passage.
    """
    if len(query_term) >= 4:
        length = max(4, len(query_term) - 2)
        if length not in prefixes:
            prefixes[length] = {term[:length] for term in terms if len(term) >= length}
        if query_term[:length] in prefixes[length]:
            return True
        if any(query_term[:end] in terms for end in range(4, len(query_term))):
            return True
    if query_term[:1] in _ARABIC_CLITICS and query_term[1:] in terms:
        return True
    return any(clitic + query_term in terms for clitic in _ARABIC_CLITICS)


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
        prefixes: dict[int, set[str]] = {}
        for term, weight in self.weights.items():
            if term in terms:
                score += weight
                found.add(term)
            elif _related(term, terms, prefixes):
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


def window_coverage(terms: Sequence[str], weights: dict[str, float], window: int) -> float:
    """The most weight of distinct query terms found within `window` consecutive terms."""
    hits = [(position, term) for position, term in enumerate(terms) if term in weights]
    best = current = 0.0
    inside: dict[str, int] = {}
    first = 0
    for position, term in hits:
        if not inside.get(term):
            current += weights[term]
        inside[term] = inside.get(term, 0) + 1
        while hits[first][0] <= position - window:
            leaving = hits[first][1]
            inside[leaving] -= 1
            if not inside[leaving]:
                current -= weights[leaving]
            first += 1
        best = max(best, current)
    return best


def _scaled(scores: np.ndarray) -> np.ndarray:
    top = float(scores.max()) if len(scores) else 0.0
    return scores / top if top > 0 else scores


class HybridRetriever:
    """Finds the passages that best answer a question.

    Three rankings score every passage: BM25 over stemmed terms (lexical), BM25 over
    character 4-grams of the words (subword), and cosine similarity in Chroma
    (vector, its `candidates` nearest only). Each is scaled by its best score and
    weighted, and the share of the question's IDF weight that the passage contains
    (coverage) is added. The best `candidates` are then re-ranked with the share
    found within a window of a few terms (proximity): a question is usually
    answered by one sentence that holds most of its words. Weights, window and
    depth were chosen on the tuning split of the benchmarks (benchmarks/tune.py).

    `fusion="rrf"` fuses the three rankings by reciprocal rank instead, for comparison.
    """

    def __init__(
        self,
        index: NewsIndex,
        *,
        candidates: int,
        lexical_weight: float,
        vector_weight: float,
        subword_weight: float = 0.0,
        coverage_weight: float = COVERAGE_WEIGHT,
        proximity_weight: float = PROXIMITY_WEIGHT,
        proximity_window: int = PROXIMITY_WINDOW,
        fusion: Literal["scores", "rrf"] = "scores",
    ) -> None:
        self.index = index
        self.candidates = candidates
        self.lexical_weight = lexical_weight
        self.subword_weight = subword_weight
        self.vector_weight = vector_weight
        self.coverage_weight = coverage_weight
        self.proximity_weight = proximity_weight
        self.proximity_window = proximity_window
        self.fusion = fusion

    def _vector_scores(self, question: str, snapshot: LexicalIndex) -> np.ndarray:
        scores = np.zeros(len(snapshot))
        vector = self.index.embedding.get_query_embedding(question)
        for passage_id, similarity in self.index.vector.query(vector, self.candidates):
            row = snapshot.row_of.get(passage_id)
            if row is not None:
                scores[row] = max(similarity, 0.0)
        return scores

    def _fused_rows(
        self, question: str, words: str, query: QueryTerms, snapshot: LexicalIndex, k: int
    ) -> list[tuple[int, float]]:
        """The best `k` rows and their fused scores."""
        depth = max(self.candidates, k)
        rankings: list[tuple[np.ndarray, float]] = []
        if self.lexical_weight > 0:
            rankings.append((snapshot.term_scores(query.weights), self.lexical_weight))
        if self.subword_weight > 0:
            rankings.append((snapshot.subword_scores(words), self.subword_weight))
        if self.vector_weight > 0:
            rankings.append((self._vector_scores(question, snapshot), self.vector_weight))
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion([(_top_rows(s, depth), w) for s, w in rankings])
            return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]

        total = np.zeros(len(snapshot))
        for scores, weight in rankings:
            total += weight * _scaled(scores)
        if self.coverage_weight > 0 and query.total > 0:
            total += self.coverage_weight * snapshot.coverage(query.weights) / query.total
        rows = _top_rows(total, depth)
        if self.proximity_weight > 0 and query.total > 0:
            for row in rows:
                terms = snapshot.records[row].term_list()
                near = window_coverage(terms, query.weights, self.proximity_window)
                total[row] += self.proximity_weight * near / query.total
        best = sorted(rows, key=lambda row: (-total[row], row))[:k]
        return [(row, float(total[row])) for row in best]

    def retrieve(
        self, question: str, language: str, k: int
    ) -> tuple[list[RetrievedPassage], QueryTerms]:
        snapshot = self.index.snapshot()
        words, terms = analyzer_for(language).words_and_terms(question)
        query = QueryTerms.of(terms, snapshot.idf)
        if not len(snapshot):
            return [], query
        passages = []
        for row, score in self._fused_rows(question, " ".join(words), query, snapshot, k):
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


def _top_rows(scores: np.ndarray, k: int) -> list[int]:
    """Rows of the `k` highest positive scores, best first (ties by row)."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > k:
        positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
    order = np.lexsort((positive, -scores[positive]))
    return [int(row) for row in positive[order]]
