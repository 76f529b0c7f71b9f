"""Hybrid retrieval: words, n-grams, names across scripts and meaning, fused."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from rag.calibration import LinearModel
from rag.models import RetrievedPassage
from rag.retrieval.query_terms import QueryTerms, semantic_evidence
from rag.store.nearest import NearestPerLanguage
from rag.text.analysis import analyzer_for
from rag.text.transliteration import skeletons

if TYPE_CHECKING:
    from rag.store.index import NewsIndex
    from rag.store.lexical import LexicalIndex, PassageRecord

# Chosen on the tuning split with benchmarks/tune.py, like the weights in Settings: the
# lexical-only fusion. With an embedding model the fusion is rag/calibrations/model.json's.
COVERAGE_WEIGHT = 0.9
PROXIMITY_WEIGHT = 0.7
PROXIMITY_WINDOW = 10
# Nearest sentences fetched per language, for every nearest passage.
SENTENCES_PER_PASSAGE = 4
# Rows given proximity and names across scripts, for every passage asked for.
RERANK_DEPTH = 2
# The features of a passage that the model fusion weighs (rag/calibration.py).
RANKING_FEATURES = ("margin", "sentence_margin", "subword", "coverage", "proximity", "names")
_FEATURE_COLUMN = {name: column for column, name in enumerate(RANKING_FEATURES)}


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


@dataclass
class _Similarities:
    """A question's similarity to the nearest passages and sentences of each language, and
    each language's background: the mean over its nearest passages (by their best
    sentence, for sentences). A multilingual model rates any text in the question's language
    closer than the same content in another; measured above its own language's
    background, a passage competes on meaning, whatever its language."""

    passages: np.ndarray  # per row; NaN: not among its language's nearest
    sentences: np.ndarray  # per row, its best sentence
    passage_background: dict[str, float]
    sentence_background: dict[str, float]

    def margins(self, languages: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Passage and best-sentence similarities above their language's background, in
        units of `scale`; a row outside the nearest counts as its language's least."""
        return (
            _above_background(self.passages, languages, self.passage_background) / scale,
            _above_background(self.sentences, languages, self.sentence_background) / scale,
        )


def _above_background(
    values: np.ndarray, languages: np.ndarray, background: dict[str, float]
) -> np.ndarray:
    result = np.zeros(len(values))
    known = ~np.isnan(values)
    floor = float(values[known].min()) if known.any() else 0.0
    for code in np.unique(languages):
        rows = languages == code
        found = rows & known
        least = float(values[found].min()) if found.any() else floor
        filled = np.where(found, values, least)[rows]
        result[rows] = filled - background.get(str(code), least)
    return result


@dataclass
class PassageFeatures:
    """The features of the candidate passages for one question (the model fusion)."""

    rows: list[int]
    matrix: np.ndarray  # rows x RANKING_FEATURES
    similarities: _Similarities


@dataclass(frozen=True, kw_only=True)
class RetrieverConfig:
    """How the retriever ranks: the engine's from the settings and the setup's calibration
    (rag/calibration.py); the benchmarks try others."""

    # Passages fetched per ranking (per language, with a model), and re-ranked.
    candidates: int
    lexical_weight: float
    # 0: words alone, the embedding's vectors never asked for.
    vector_weight: float
    subword_weight: float = 0.0
    # The model fusion's weights of RANKING_FEATURES; None: the lexical fusion.
    ranking: LinearModel | None = None
    similarity_scale: float = 0.03
    # A language's typical background (kind, question vector, question language, passage
    # language), for a language with fewer passages than `candidates`.
    background_prior: Callable[[str, np.ndarray, str, str], float | None] | None = None
    coverage_weight: float = COVERAGE_WEIGHT
    proximity_weight: float = PROXIMITY_WEIGHT
    proximity_window: int = PROXIMITY_WINDOW


class HybridRetriever:
    """Finds the passages that best answer a question.

    Without an embedding model, two rankings score every passage: BM25 over character
    4-grams of the words (subword) and, when weighted, BM25 over stemmed terms (lexical),
    each scaled by its best score and weighted; the share of the question's IDF weight
    that the passage contains (coverage) is added, and the best `candidates` are re-ranked
    with the share found within a window of a few terms (proximity). Weights, window and
    depth were chosen on the tuning split of the benchmarks (benchmarks/tune.py, which
    also keeps the reciprocal rank fusion they were compared with).

    With a model, the nearest passages and sentences of each language are fetched from
    Chroma and measured above their language's background, so that a passage in another
    language competes on meaning; these margins, the n-gram BM25 score (weighed by how
    much of the question the best passage covers: one shared word across languages must
    not outvote meaning), coverage, proximity and the question's names found in the other
    script (rag/text/transliteration.py) are fused by the weights fitted in
    rag/calibrations/model.json (`ranking`).
    """

    def __init__(self, index: NewsIndex, config: RetrieverConfig) -> None:
        self.index = index
        self.config = config
        self._names: dict[str, frozenset[str]] = {}
        self._nearest_search = NearestPerLanguage()

    @property
    def vector_weight(self) -> float:
        """The vector ranking's weight; 0: passages are found by their words alone."""
        return self.config.vector_weight

    def lexical_only(self) -> HybridRetriever:
        """This retriever without the vector ranking (for when the embedding fails)."""
        words_alone = copy.copy(self)
        words_alone.config = replace(self.config, vector_weight=0.0)
        return words_alone

    # -- without a model ----------------------------------------------------------

    def word_rankings(
        self, words: str, query: QueryTerms, snapshot: LexicalIndex, vector: np.ndarray | None
    ) -> list[tuple[np.ndarray, float]]:
        """The rankings fused without a model, each as a score per row with its weight:
        BM25 over terms and over n-grams, as weighted, and with `vector` (the hashing
        embedding weighed in) its nearest passages, spread from 0 to 1."""
        config = self.config
        rankings: list[tuple[np.ndarray, float]] = []
        if config.lexical_weight > 0:
            rankings.append((snapshot.term_scores(query.weights), config.lexical_weight))
        if config.subword_weight > 0:
            rankings.append((snapshot.subword_scores(words), config.subword_weight))
        if vector is not None:
            rankings.append((self._nearest(vector, snapshot), config.vector_weight))
        return rankings

    def fuse_word_rankings(
        self,
        rankings: list[tuple[np.ndarray, float]],
        query: QueryTerms,
        snapshot: LexicalIndex,
        k: int,
    ) -> list[tuple[int, float]]:
        """The best `k` rows and their fused scores: each ranking scaled by its best score
        and weighted, coverage added, and the best `candidates` re-ranked with proximity."""
        config = self.config
        total = np.zeros(len(snapshot))
        for scores, weight in rankings:
            total += weight * _scaled(scores)
        if config.coverage_weight > 0 and query.total > 0:
            total += config.coverage_weight * snapshot.coverage(query.weights) / query.total
        rows = top_rows(total, max(config.candidates, k))
        if config.proximity_weight > 0 and query.total > 0:
            for row in rows:
                terms = snapshot.records[row].term_list()
                near = window_coverage(terms, query.weights, config.proximity_window)
                total[row] += config.proximity_weight * near / query.total
        best = sorted(rows, key=lambda row: (-total[row], row))[:k]
        return [(row, float(total[row])) for row in best]

    def _nearest(self, vector: np.ndarray, snapshot: LexicalIndex) -> np.ndarray:
        """The `candidates` nearest passages' similarities spread from 0.01 to 1 between the
        least and the best of them; 0 for the others."""
        found = np.zeros(len(snapshot))
        hits = self.index.vector.query(vector.tolist(), self.config.candidates)
        rows = [(snapshot.row_of[i], s) for i, s in hits if i in snapshot.row_of]
        if rows:
            values = np.array([s for _, s in rows])
            low, high = float(values.min()), float(values.max())
            spread = (values - low) / (high - low) if high > low else np.ones(len(values))
            for (row, _), share in zip(rows, spread, strict=True):
                found[row] = 0.01 + 0.99 * share
        return found

    # -- with a model -------------------------------------------------------------

    def _similarities(
        self, vector: np.ndarray, snapshot: LexicalIndex, language: str = "en"
    ) -> _Similarities | None:
        """The nearest passages and sentences of each language (one query each, as many
        as `candidates`); None when the store gives none (no vectors stored, or an ingest
        holds the store). A language with fewer passages than `candidates` has its
        background filled up with the calibration's typical one for the rest."""
        passages = np.full(len(snapshot), np.nan)
        sentences = np.full(len(snapshot), np.nan)
        passage_background: dict[str, float] = {}
        sentence_background: dict[str, float] = {}
        candidates = self.config.candidates
        hits = self._nearest_search.search(
            self.index.vector,
            vector,
            candidates,
            candidates * SENTENCES_PER_PASSAGE,
            snapshot.ids_by_language,
            snapshot.generation,
        )
        for passage_language in snapshot.languages:
            found = []
            for passage_id, similarity in hits.passages.get(passage_language, []):
                row = snapshot.row_of.get(passage_id)
                if row is not None:
                    passages[row] = similarity
                    found.append(similarity)
            if found:
                passage_background[passage_language] = self._background(
                    found, "passages", vector, language, passage_language
                )
            best: dict[int, float] = {}
            for passage_id, _, similarity in hits.sentences.get(passage_language, []):
                row = snapshot.row_of.get(passage_id)
                if row is not None and similarity > best.get(row, -2.0):
                    best[row] = similarity
            for row, similarity in best.items():
                sentences[row] = similarity
            if best:
                nearest = sorted(best.values(), reverse=True)[:candidates]
                sentence_background[passage_language] = self._background(
                    nearest, "sentences", vector, language, passage_language
                )
        if not passage_background:
            return None
        if not sentence_background:
            # Sentences not stored (an index from before they were): passages stand in.
            sentences, sentence_background = passages.copy(), dict(passage_background)
        return _Similarities(passages, sentences, passage_background, sentence_background)

    def _background(
        self, nearest: list[float], kind: str, vector: np.ndarray, question: str, passage: str
    ) -> float:
        prior = None
        if self.config.background_prior is not None:
            prior = self.config.background_prior(kind, vector, question, passage)
        candidates = self.config.candidates
        missing = candidates - len(nearest)
        if prior is None or missing <= 0:
            return float(np.mean(nearest))
        return (sum(nearest) + missing * prior) / candidates

    def _names_of(self, record: PassageRecord) -> frozenset[str]:
        """The skeletons of a passage's words (kept per passage)."""
        found = self._names.get(record.passage_id)
        if found is None:
            found = frozenset().union(*map(skeletons, set(record.words.split())))
            if len(self._names) > 100_000:
                self._names.clear()
            self._names[record.passage_id] = found
        return found

    def passage_features(
        self,
        words: list[str],
        query: QueryTerms,
        language: str,
        snapshot: LexicalIndex,
        similarities: _Similarities,
        k: int,
    ) -> PassageFeatures:
        """The features of the passages worth ranking: the best `RERANK_DEPTH * k` (at
        least `candidates`) by the features that every passage has, with proximity and
        names across scripts added for those."""
        config = self.config
        assert config.ranking is not None
        margin, sentence_margin = similarities.margins(
            snapshot.language_codes, config.similarity_scale
        )
        coverage = (
            snapshot.coverage(query.weights) / query.total
            if query.total > 0
            else np.zeros(len(snapshot))
        )
        confidence = float(coverage.max()) ** 2 if len(coverage) else 0.0
        subword = _scaled(snapshot.subword_scores(" ".join(words))) * confidence
        matrix = np.zeros((len(snapshot), len(RANKING_FEATURES)))
        column = _FEATURE_COLUMN
        matrix[:, column["margin"]] = margin
        matrix[:, column["sentence_margin"]] = sentence_margin
        matrix[:, column["subword"]] = subword
        matrix[:, column["coverage"]] = coverage**2
        # Proximity and names are 0 here: the cheap features choose whom they are given to.
        partial = matrix @ _weights(config.ranking)
        depth = max(config.candidates, RERANK_DEPTH * k)
        rows = [int(r) for r in np.argsort(-partial, kind="stable")[:depth]]
        names = question_names(words, query, language)
        total_names = sum(names.values())
        arabic_question = language == "ar"
        for row in rows:
            record = snapshot.records[row]
            if query.total > 0:
                terms = record.term_list()
                near = window_coverage(terms, query.weights, config.proximity_window)
                matrix[row, column["proximity"]] = (near / query.total) ** 3
            if total_names > 0 and (record.language == "ar") != arabic_question:
                held = self._names_of(record)
                found = sum(w for key, w in names.items() if key in held) / total_names
                matrix[row, column["names"]] = found
        return PassageFeatures(rows, matrix[rows], similarities)

    # -- both -----------------------------------------------------------------------

    def retrieve(
        self, question: str, language: str, k: int
    ) -> tuple[list[RetrievedPassage], QueryTerms]:
        """The `k` passages that best answer `question` (in `language`), best first, and
        the question as it was searched (its weighted terms, and with a model its vector,
        language backgrounds and names), by which an answer's sentences are weighed.

        With the model fusion (`config.ranking`) the passages are ranked by their features
        and carry their similarities; without it, or while the store holds no vectors, by
        the fused word rankings. With `vector_weight` 0 the embedding is never called.
        """
        config = self.config
        snapshot = self.index.snapshot()
        words, terms = analyzer_for(language).words_and_terms(question)
        vector = None
        if config.vector_weight > 0 and self.index.embedding is not None and len(snapshot):
            vector = np.asarray(self.index.embedding.get_query_embedding(question), np.float32)
        query = QueryTerms.of(terms, snapshot.idf, vector if config.ranking else None)
        if not len(snapshot):
            return [], query
        similarities = None
        if vector is not None and config.ranking is not None:
            similarities = self._similarities(vector, snapshot, language)
        if similarities is None:
            lexical_vector = vector if config.ranking is None else None
            rankings = self.word_rankings(" ".join(words), query, snapshot, lexical_vector)
            scored = self.fuse_word_rankings(rankings, query, snapshot, k)
            return [self._passage(snapshot, row, score, query) for row, score in scored], query
        features = self.passage_features(words, query, language, snapshot, similarities, k)
        assert config.ranking is not None
        scores = features.matrix @ _weights(config.ranking)
        order = sorted(range(len(features.rows)), key=lambda i: (-scores[i], features.rows[i]))
        margin, sentence_margin = similarities.margins(
            snapshot.language_codes, config.similarity_scale
        )
        query = query.searched(
            sentence_background=similarities.sentence_background,
            names=question_names(words, query, language),
        )
        passages = []
        for i in order[:k]:
            row = features.rows[i]
            passages.append(
                self._passage(
                    snapshot,
                    row,
                    float(scores[i]),
                    query,
                    similarity=_known(similarities.passages[row]),
                    margin=float(margin[row]),
                    sentence_similarity=_known(similarities.sentences[row]),
                    sentence_margin=float(sentence_margin[row]),
                )
            )
        return passages, query

    def _passage(
        self,
        snapshot: LexicalIndex,
        row: int,
        score: float,
        query: QueryTerms,
        *,
        similarity: float | None = None,
        margin: float | None = None,
        sentence_similarity: float | None = None,
        sentence_margin: float | None = None,
    ) -> RetrievedPassage:
        record = snapshot.records[row]
        lexical_evidence, _ = query.coverage(set(record.term_list()))
        if math.isnan(lexical_evidence):
            lexical_evidence = 0.0
        evidence = lexical_evidence
        if sentence_margin is not None:
            evidence = max(evidence, semantic_evidence(sentence_margin))
        place, places = snapshot.places[row]
        return RetrievedPassage(
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
            sentence_similarity=sentence_similarity,
            adjusted_sentence_similarity=sentence_margin,
        )


def question_names(words: list[str], query: QueryTerms, language: str) -> dict[str, float]:
    """The skeletons of the question's words (rag/text/transliteration.py), each with the
    weight of its term: what a passage in the other script may share with it."""
    analyzer = analyzer_for(language)
    names: dict[str, float] = {}
    for word in dict.fromkeys(words):
        terms = analyzer.terms(word)
        weight = max((query.weights.get(term, 0.0) for term in terms), default=0.0)
        for key in skeletons(word):
            names[key] = max(names.get(key, 0.0), weight)
    return names


def _weights(model: LinearModel) -> np.ndarray:
    """The fusion's weights in RANKING_FEATURES order (unscaled: ranking needs no intercept)."""
    return np.array([model.weight(name) for name in RANKING_FEATURES])


def _known(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def top_rows(scores: np.ndarray, k: int) -> list[int]:
    """Rows of the `k` highest positive scores, best first (ties by row)."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > k:
        positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
    order = np.lexsort((positive, -scores[positive]))
    return [int(row) for row in positive[order]]
