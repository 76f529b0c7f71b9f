"""The sentences an answer may quote, each weighed against the question.

Every answer, extractive or checked against a model's, starts here: the answerable sentences
of the best passages (`answer_units`), each with the features that tell whether it answers
the question (its meaning above its language's background, the question's terms and names
it holds, what kind of value it gives, how strong its passage is) and the logit of the
calibration's sentence model over them. The sentence that answers leads; whether any does
is the answerability's business (rag/answering/answerability.py).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.calibration import Calibration
from rag.models import RetrievedPassage
from rag.retrieval.query_terms import QueryTerms
from rag.text.analysis import analyzer_for
from rag.text.sentence_units import Unit, answer_units
from rag.text.transliteration import skeletons
from rag.text.values import asked_value, asked_values, holds_value

# The features of a sentence, in the calibration's names.
SENTENCE_FEATURES = (
    "similarity",
    "raw_similarity",
    "rank",
    "inverse_rank",
    "score_gap",
    "top_score",
    "coverage",
    "coverage_squared",
    "focus",
    "focus_squared",
    "names",
    "same_language",
    "typed",
    "wanted",
    "margin",
    "sentence_margin",
    "similarity_same_language",
    "coverage_same_language",
    "named",
)
# Question words that name something: with a digit ("2019", "M2"), or capitalised in
# Latin script past the first word ("Oracle", "India"), or in Latin script amid Arabic.
_NAME_TOKEN_RE = re.compile(r"[^\W_]+(?:[’'.-][^\W_]+)*")

StoredVectors = Callable[[Sequence[str]], Mapping[tuple[str, int], np.ndarray]]
# Whether any indexed passage holds a name: by its term, or by one of its skeletons; None
# when that cannot be told.
KnownName = Callable[[str, frozenset[str]], bool | None]


def _any_name(term: str, keys: frozenset[str]) -> bool | None:
    return True


class SentenceVectors:
    """Sentence embeddings: those stored at ingest, else computed on demand and kept
    (least recently used first out)."""

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        stored: StoredVectors | None = None,
        capacity: int = 20_000,
    ) -> None:
        self._embed = embed
        self._stored = stored
        self._capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, texts: Sequence[str]) -> list[np.ndarray]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self._embed(missing)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        with self._lock:
            found = []
            for text in texts:
                self._cache.move_to_end(text)
                found.append(self._cache[text])
            return found

    def of_units(
        self, passages: Sequence[RetrievedPassage], units: Sequence[Sequence[Unit]]
    ) -> list[list[np.ndarray]]:
        """The vectors of each passage's units: stored ones where the store has them."""
        stored = self._stored([p.passage_id for p in passages]) if self._stored else {}
        missing = [
            unit.text
            for passage, found in zip(passages, units, strict=True)
            for unit in found
            if (passage.passage_id, unit.start) not in stored
        ]
        computed = dict(zip(missing, self.of(missing), strict=True)) if missing else {}
        return [
            [
                stored[(passage.passage_id, unit.start)]
                if (passage.passage_id, unit.start) in stored
                else computed[unit.text]
                for unit in found
            ]
            for passage, found in zip(passages, units, strict=True)
        ]


@dataclass
class Sentence:
    """A unit of a passage, weighed against the question."""

    passage: int  # position in the ranking
    index: int  # position among the passage's answer units
    unit: Unit
    features: dict[str, float]
    found: set[str]  # the question's terms it holds
    logit: float = 0.0

    @property
    def text(self) -> str:
        return self.unit.text

    @property
    def coverage(self) -> float:
        return self.features["coverage"]

    @property
    def typed(self) -> bool:
        return self.features["typed"] > 0


@dataclass
class Reading:
    """One question read against its ranked passages: what every step of an answer uses."""

    question: str
    language: str
    query: QueryTerms
    ranked: Sequence[RetrievedPassage]
    units: Sequence[Sequence[Unit]]
    wanted: str | None
    sentences: list[Sentence] = field(default_factory=list)
    # How many of `ranked` are answered from (the rest is the figures' pool).
    answered_from: int = 0
    # The question's names: their terms, each with its weight and skeletons.
    names: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    # The share of their weight that no indexed passage holds, in any script.
    absent_names: float = 0.0
    # The names, as the question writes them, that no indexed passage holds in any script
    # we can tell: a number, or a name with a skeleton to look for.
    unheld: list[str] = field(default_factory=list)

    def of(self, passage: int) -> list[Sentence]:
        return [s for s in self.sentences if s.passage == passage]


def question_names(
    question: str, language: str, query: QueryTerms
) -> dict[str, tuple[float, frozenset[str]]]:
    """The question's words that name something (see _NAME_TOKEN_RE), by their term."""
    analyzer = analyzer_for(language)
    names: dict[str, tuple[float, frozenset[str]]] = {}
    arabic_question = language == "ar"
    for position, match in enumerate(_NAME_TOKEN_RE.finditer(question)):
        token = match.group()
        latin = token[:1].isascii() or (token[:1].isalpha() and not _is_arabic(token))
        named = any(ch.isdigit() for ch in token) or (
            latin and (arabic_question or (position > 0 and token[:1].isupper()))
        )
        if not named:
            continue
        words, terms = analyzer.words_and_terms(token)
        for word, term in zip(words, terms, strict=True):
            if term in query.weights:
                names[term] = (query.weights[term], skeletons(word))
    return names


def name_surfaces(question: str, language: str) -> dict[str, str]:
    """The question's words as written, by their term."""
    analyzer = analyzer_for(language)
    found: dict[str, str] = {}
    for match in _NAME_TOKEN_RE.finditer(question):
        for term in analyzer.terms(match.group()):
            found.setdefault(term, match.group())
    return found


def _is_arabic(token: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in token)


def gives_asked_value(text: str, language: str, wanted: str | None, question: str) -> bool:
    """Whether a sentence gives the kind of value the question asks for: a date, a figure of
    the asked kind, a name, or a cause."""
    if wanted in ("date", "number"):
        return bool(asked_values(text, language, wanted, question))
    return bool(wanted) and holds_value(text, wanted or "", question)


def _topic_shares(terms: Sequence[str], article_terms: Sequence[set[str]]) -> dict[str, float]:
    """For each term, the share of an article's passages holding it: a term in most of
    them is the article's topic ("Panthers" in an article on the Super Bowl), not what
    sets one of its sentences apart."""
    if len(article_terms) < 2:
        return dict.fromkeys(terms, 0.0)
    return {
        term: sum(term in held for held in article_terms) / len(article_terms) for term in terms
    }


def read_sentences(
    question: str,
    language: str,
    query: QueryTerms,
    ranked: Sequence[RetrievedPassage],
    *,
    calibration: Calibration,
    vectors: SentenceVectors | None,
    article_terms: Callable[[RetrievedPassage], Sequence[set[str]]],
    answered_from: int,
    scale: float,
    known_name: KnownName = _any_name,
) -> Reading:
    """Every answer unit of the first `answered_from` passages of `ranked`, with its
    features and logit. (The rest of `ranked` is where figures are looked for.)"""
    units = [answer_units(p.text, title=p.title, language=p.language) for p in ranked]
    wanted = asked_value(question)
    reading = Reading(question, language, query, ranked, units, wanted, [], answered_from)
    reading.names = question_names(question, language, query)
    named_total = sum(weight for weight, _ in reading.names.values())
    if named_total > 0:
        known = {term: known_name(term, keys) for term, (_, keys) in reading.names.items()}
        absent = [term for term, held in known.items() if not held]
        reading.absent_names = sum(reading.names[term][0] for term in absent) / named_total
        surfaces = name_surfaces(question, language)
        reading.unheld = [surfaces.get(term, term) for term in absent if known[term] is False]
    given = ranked[:answered_from]
    if not given:
        return reading
    reading.sentences = sentence_features(
        reading, range(answered_from), vectors, article_terms, scale
    )
    weigh_sentences(reading.sentences, calibration)
    return reading


def weigh_sentences(sentences: Sequence[Sentence], calibration: Calibration) -> None:
    """Set each sentence's logit by the calibration's sentence model."""
    if not sentences:
        return
    model = calibration.sentence
    matrix = np.array([[s.features[name] for name in model.names] for s in sentences])
    for sentence, logit in zip(sentences, model.logits(matrix), strict=True):
        sentence.logit = float(logit)


def sentence_features(
    reading: Reading,
    positions: Sequence[int],
    vectors: SentenceVectors | None,
    article_terms: Callable[[RetrievedPassage], Sequence[set[str]]],
    scale: float,
) -> list[Sentence]:
    """The units of the passages at `positions` of the ranking, with their features."""
    query, ranked, question = reading.query, reading.ranked, reading.question
    passages = [ranked[p] for p in positions]
    units = [reading.units[p] for p in positions]
    unit_vectors: list[list[np.ndarray]] | None = None
    if vectors is not None and query.vector is not None:
        unit_vectors = vectors.of_units(passages, units)
    top_score = ranked[0].score if ranked else 0.0
    total_names = sum(query.names.values())
    named_total = sum(weight for weight, _ in reading.names.values())
    question_arabic = reading.language == "ar"
    found_sentences: list[Sentence] = []
    for slot, position in enumerate(positions):
        passage = ranked[position]
        analyzer = analyzer_for(passage.language)
        shares = _topic_shares(list(query.weights), article_terms(passage))
        focus = {term: weight * (1.0 - shares[term]) for term, weight in query.weights.items()}
        focus_total = sum(focus.values()) or 1.0
        same = float(passage.language in (reading.language, "und"))
        background = query.sentence_background.get(passage.language)
        other_script = (passage.language == "ar") != question_arabic
        for index, unit in enumerate(units[slot]):
            words, terms = analyzer.words_and_terms(unit.text)
            coverage, found = query.coverage(set(terms))
            raw = similarity = 0.0
            if unit_vectors is not None and query.vector is not None:
                raw = float(unit_vectors[slot][index] @ query.vector)
                if background is not None:
                    similarity = (raw - background) / scale
            names = 0.0
            # Names are matched by skeleton across scripts only: within one, by their words.
            held = frozenset().union(*map(skeletons, set(words))) if other_script else frozenset()
            if other_script and total_names > 0:
                names = sum(w for key, w in query.names.items() if key in held) / total_names
            named = 1.0
            if named_total > 0:
                named = (
                    sum(
                        weight
                        for term, (weight, keys) in reading.names.items()
                        if term in found or keys & held
                    )
                    / named_total
                )
            typed = float(gives_asked_value(unit.text, passage.language, reading.wanted, question))
            # In the question's order: summed in a set's, the last digit would vary with
            # the process's hash seed.
            focused = sum(weight for term, weight in focus.items() if term in found) / focus_total
            features = {
                "similarity": similarity,
                "raw_similarity": raw,
                "rank": float(position),
                "inverse_rank": 1.0 / (1 + position),
                "score_gap": passage.score - top_score,
                "top_score": top_score,
                "coverage": coverage,
                "coverage_squared": coverage**2,
                "focus": focused,
                "focus_squared": focused**2,
                "names": names,
                "same_language": same,
                "typed": typed,
                "wanted": float(bool(reading.wanted)),
                "margin": passage.adjusted_similarity or 0.0,
                "sentence_margin": passage.adjusted_sentence_similarity or 0.0,
                "similarity_same_language": similarity * same,
                "coverage_same_language": coverage * same,
                "named": named,
            }
            found_sentences.append(Sentence(position, index, unit, features, found))
    return found_sentences
