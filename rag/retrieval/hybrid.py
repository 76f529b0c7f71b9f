"""Hybrid retrieval: lexical, n-gram and vector rankings fused, then re-ranked by proximity."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from rag.models import RetrievedPassage
from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.retrieval.query_terms import QueryTerms, passage_semantic_evidence, semantic_evidence
from rag.text.analysis import analyzer_for

if TYPE_CHECKING:
    from rag.store.index import NewsIndex
    from rag.store.lexical import LexicalIndex

# Chosen on the tuning split with benchmarks/tune.py, like the weights in Settings.
COVERAGE_WEIGHT = 0.9
PROXIMITY_WEIGHT = 0.7
PROXIMITY_WINDOW = 10
# The least of the vector ranking's candidates still scores this much (it is a candidate).
CANDIDATE_FLOOR = 0.01
# What the bundled model's similarity to a question loses when a passage is in another
# language than the question (about 0.05-0.06 on XQuAD's tuning half), given back to such
# passages. None: each passage's margin over its language's mean instead.
LANGUAGE_OFFSET: float | None = 0.06
# Pseudo-passages at the mean of all that each language's mean similarity is drawn to.
LANGUAGE_PRIOR = 5.0
# The lexical rankings count in proportion to the best passage's term coverage raised to
# this power: scaled by their best score, they would give full weight to a passage that
# shares one common word with the question (the usual case across languages).
LEXICAL_CONFIDENCE = 2.0
# With an embedding model the coverage feature weighs less (benchmarks/TUNING.md).
MODEL_COVERAGE_WEIGHT = 0.4


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
        lexical_confidence: float = LEXICAL_CONFIDENCE,
        language_offset: float | None = LANGUAGE_OFFSET,
        language_prior: float = LANGUAGE_PRIOR,
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
        self.lexical_confidence = lexical_confidence
        self.language_offset = language_offset
        self.language_prior = language_prior

    def _similarities(self, vector: np.ndarray, snapshot: LexicalIndex) -> np.ndarray:
        """Cosine similarity to the question of the nearest passages; NaN for the others
        (and for vectors the snapshot does not name). As many as `candidates` per language
        of the index are fetched in one unfiltered query (about 2 ms on the benchmark pool)
        rather than one filtered query per language (about 10 ms each)."""
        similarities = np.full(len(snapshot), np.nan)
        depth = self.candidates * max(1, len(snapshot.languages))
        for passage_id, similarity in self.index.vector.query(vector.tolist(), depth):
            row = snapshot.row_of.get(passage_id)
            if row is not None:
                similarities[row] = similarity
        return similarities

    def _fused_rows(
        self,
        words: str,
        query: QueryTerms,
        similarities: np.ndarray | None,
        snapshot: LexicalIndex,
        k: int,
    ) -> list[tuple[int, float]]:
        """The best `k` rows and their fused scores."""
        depth = max(self.candidates, k)
        rankings: list[tuple[np.ndarray, float]] = []
        if self.lexical_weight > 0:
            rankings.append((snapshot.term_scores(query.weights), self.lexical_weight))
        if self.subword_weight > 0:
            rankings.append((snapshot.subword_scores(words), self.subword_weight))
        if similarities is not None:
            rankings.append((_spread_over_candidates(similarities), self.vector_weight))
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion([(_top_rows(s, depth), w) for s, w in rankings])
            return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]

        coverage = (
            snapshot.coverage(query.weights) / query.total
            if query.total > 0
            else np.zeros(len(snapshot))
        )
        # Without a vector ranking the lexical ones stand alone, as tuned before.
        confidence = 1.0
        if similarities is not None and self.lexical_confidence > 0 and len(coverage):
            confidence = float(coverage.max()) ** self.lexical_confidence
        total = np.zeros(len(snapshot))
        for index, (scores, weight) in enumerate(rankings):
            lexical = similarities is None or index < len(rankings) - 1
            total += weight * _scaled(scores) * (confidence if lexical else 1.0)
        if self.coverage_weight > 0 and query.total > 0:
            total += self.coverage_weight * coverage
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
        vector = None
        if self.vector_weight > 0 and self.index.embedding is not None and len(snapshot):
            vector = np.asarray(self.index.embedding.get_query_embedding(question), np.float32)
        query = QueryTerms.of(terms, snapshot.idf, vector)
        if not len(snapshot):
            return [], query
        similarities = relative = None
        if vector is not None:
            similarities = self._similarities(vector, snapshot)
            if self.language_offset is None:
                relative = margins_over_language(
                    similarities, snapshot.language_codes, self.language_prior
                )
            else:
                # The model puts text in the question's language closer than the same
                # content in another (benchmarks/TUNING.md): passages in other languages
                # get that gap back.
                relative = similarities + self.language_offset * (
                    snapshot.language_codes != language
                )
        passages = []
        for row, score in self._fused_rows(" ".join(words), query, relative, snapshot, k):
            record = snapshot.records[row]
            lexical_evidence, _ = query.coverage(set(record.term_list()))
            if math.isnan(lexical_evidence):
                lexical_evidence = 0.0
            evidence = lexical_evidence
            similarity = margin = None
            if (
                similarities is not None
                and relative is not None
                and not np.isnan(similarities[row])
            ):
                similarity, margin = float(similarities[row]), float(relative[row])
                semantic = (
                    semantic_evidence(margin)
                    if self.language_offset is not None
                    else passage_semantic_evidence(similarity, margin)
                )
                evidence = max(evidence, semantic)
            place, places = snapshot.places[row]
            passages.append(
                RetrievedPassage(
                    passage_id=record.passage_id,
                    source=record.source,
                    title=record.title,
                    language=record.language,
                    text=record.text,
                    start=record.start,
                    end=record.end,
                    passage=place,
                    passages=places,
                    score=score,
                    evidence=evidence,
                    lexical_evidence=lexical_evidence,
                    similarity=similarity,
                    adjusted_similarity=margin,
                )
            )
        return passages, query


def margins_over_language(
    similarities: np.ndarray, languages: np.ndarray, prior: float = LANGUAGE_PRIOR
) -> np.ndarray:
    """Each known similarity less the mean of its language's (NaN stays NaN).

    A multilingual model still rates text in the question's language closer than the
    same content in another: on the seeds, an English question about Amazon is nearer
    every English passage than the Arabic article about Amazon. Comparing a passage with
    the others of its language removes that offset (in the project's question set it
    lifts cross-lingual hit@3 of the model alone from 0.56 to 0.85). A language with few
    candidates has a mean of little worth: it is drawn towards the mean of all by `prior`
    pseudo-passages.
    """
    margins = np.full(len(similarities), np.nan)
    known = ~np.isnan(similarities)
    if not known.any():
        return margins
    overall = float(similarities[known].mean())
    for code in np.unique(languages[known]):
        rows = known & (languages == code)
        values = similarities[rows]
        mean = (float(values.sum()) + prior * overall) / (len(values) + prior)
        margins[rows] = values - mean
    return margins


def _spread_over_candidates(similarities: np.ndarray) -> np.ndarray:
    """Similarities rescaled between the lowest and highest of the candidates, to
    CANDIDATE_FLOOR..1 (0 for passages that are not among them), so that the ranking's
    weight is not spent on the narrow band every passage shares."""
    known = ~np.isnan(similarities)
    spread = np.zeros(len(similarities))
    if not known.any():
        return spread
    low, high = float(similarities[known].min()), float(similarities[known].max())
    share = (similarities[known] - low) / (high - low) if high > low else 1.0
    spread[known] = CANDIDATE_FLOOR + (1 - CANDIDATE_FLOOR) * share
    return spread


def _top_rows(scores: np.ndarray, k: int) -> list[int]:
    """Rows of the `k` highest positive scores, best first (ties by row)."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > k:
        positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
    order = np.lexsort((positive, -scores[positive]))
    return [int(row) for row in positive[order]]
