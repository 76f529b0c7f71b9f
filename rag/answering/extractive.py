"""Extractive answers: the sentences of the best passages that answer the question, cited."""

from __future__ import annotations

import statistics
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from prompts import localized_prompt, localized_table
from rag.models import Answer, Citation, RetrievedPassage
from rag.retrieval.query_terms import QueryTerms, semantic_evidence
from rag.text.analysis import analyzer_for, normalize
from rag.text.sentence_units import Unit, passage_units
from rag.text.values import (
    Value,
    asked_noun,
    asked_quantity,
    asked_value,
    differ_sentence,
    holds_value,
    log_distance,
    nouns_match,
    render_value,
    same_value,
    value_order,
    values_in,
    written_value,
)

__all__ = [
    "FIGURE_POOL",
    "ExtractiveAnswerer",
    "SentenceVectors",
    "abstention",
    "asked_value",
    "holds_value",
    "language_note",
]

MAX_SENTENCES = 3
MAX_ANSWER_CHARS = 900
MIN_SENTENCE_CHARS = 20
MAX_SENTENCE_CHARS = 700
# Sentences of this many of the best passages are compared with the question by meaning,
# when the passage's words cover less of the question than LEXICAL_ENOUGH (across
# languages, or in other words): embedding a sentence costs about 20 ms on two cores, so
# they are few, and cached.
MEANING_PASSAGES = 3
LEXICAL_ENOUGH = 0.5
MEANING_WEIGHT = 1.0
SENTENCE_FLOOR = 0.78
SENTENCE_CEILING = 0.90
# A sentence holding what a how-many/when/why/who question asks for (a number, a date, a
# cause, a name) leads.
ASKED_VALUE_BONUS = 0.3
# A cause leads only in a sentence this much on the question's topic (coverage and meaning
# together): a "because" in a sentence about something else is no answer to "why".
REASON_RELEVANCE = 0.4
# A further sentence adds something when the question's terms it adds to the answer weigh
# at least this share of the question (a name shared across languages weighs little).
MIN_GAIN = 0.1
# How many passages the engine hands over for a number or date question, beyond those
# answered from: the figures sources give are looked for in all of them (see _figures).
FIGURE_POOL = 50
# A figure in a sentence that covers this much of the question's terms, or is close to it
# by meaning, counts as an answer to a how-many question (when it counts the asked thing).
FIGURE_COVERAGE = 0.25
# The bundled model's similarity at which a counted noun in another language is the
# asked one ("users" / "مستخدم" 0.89, "utilisateurs" / "users" 0.93, but "utilisateurs" /
# "دقائق" 0.88, "vues" / "users" 0.87): calibrated on the seeds' nouns.
NOUN_MATCH = 0.89
# At most this many different figures are listed side by side.
MAX_FIGURES = 4


def abstention(question: str, language: str, notices: Sequence[str] = ()) -> Answer:
    return Answer(
        question=question,
        answer=localized_prompt("abstain", language),
        abstained=True,
        language=language,
        citations=[],
        notices=list(notices),
    )


def language_note(question_language: str, passage: RetrievedPassage) -> str:
    """ "From the Arabic article “…”:", in the question's language, before sentences quoted
    from an article in another language."""
    templates = localized_table("from_article", question_language)
    template = templates.get(passage.language) or templates["other"]
    title = " ".join(passage.title.split())
    if len(title) > 60:
        title = title[:59].rstrip() + "…"
    return template.replace("${title}", title)


class SentenceVectors:
    """Sentence embeddings, computed on demand and kept (least recently used first out)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], capacity: int = 20_000) -> None:
        self._embed = embed
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


@dataclass
class _Candidate:
    """A unit of a passage, scored against the question."""

    passage: int
    unit: Unit
    score: float
    found: set[str]
    coverage: float
    meaning: float

    @property
    def text(self) -> str:
        return self.unit.text


@dataclass
class _Reading:
    """One question read against its ranked passages: what every step of an answer uses."""

    question: str
    language: str
    query: QueryTerms
    ranked: Sequence[RetrievedPassage]
    units: Sequence[Sequence[Unit]]
    every: dict[tuple[int, int], _Candidate]
    wanted: str | None


@dataclass
class _Shown:
    """A sentence as the answer shows it: one unit, or a unit with the one it leans on."""

    candidate: _Candidate
    segments: list[tuple[int, int]]
    text: str


@dataclass
class _Figure:
    """A figure or date a unit gives for what was asked."""

    candidate: _Candidate
    value: Value
    language: str
    source: str


@dataclass
class _Listing:
    """Different figures, each with the units that give it."""

    groups: list[list[_Figure]] = field(default_factory=list)


class ExtractiveAnswerer:
    """Picks and cites sentences; abstains when the best evidence is too weak.

    A sentence is scored by the question's terms it holds and, when the question has an
    embedding, by its similarity to the question: that is what lets an English question
    be answered from an Arabic article. Sentences stand alone (`passage_units`), and one
    that leans on the sentence before it ("such data") brings that one along. The
    sentence holding what a how-many/when/who question asks for leads; when the sources
    give different figures for it, they are listed side by side first. Sentences in the
    question's language come first; those of an article in another language follow a
    short note naming it.
    """

    def __init__(
        self, *, min_evidence: float, sentence_vectors: SentenceVectors | None = None
    ) -> None:
        self.min_evidence = min_evidence
        self.sentence_vectors = sentence_vectors

    # -- scoring ------------------------------------------------------------------------

    def _meanings(
        self,
        query: QueryTerms,
        ranked: Sequence[RetrievedPassage],
        units: Sequence[Sequence[Unit]],
        answered_from: int,
    ) -> dict[tuple[int, int], float]:
        """Semantic evidence of the units of the best passages, by (passage, unit index)."""
        keys = [
            (position, index)
            for position, passage in enumerate(ranked[: min(MEANING_PASSAGES, answered_from)])
            if passage.lexical_evidence < LEXICAL_ENOUGH
            for index, unit in enumerate(units[position])
            if MIN_SENTENCE_CHARS <= len(unit.text) <= MAX_SENTENCE_CHARS
        ]
        found = self._meaning_of(query, [units[p][i].text for p, i in keys])
        return dict(zip(keys, found, strict=True)) if found else {}

    def _meaning_of(self, query: QueryTerms, texts: Sequence[str]) -> list[float]:
        """Semantic evidence of each text; [] without an embedding."""
        if query.vector is None or self.sentence_vectors is None or not texts:
            return []
        vectors = self.sentence_vectors.of(texts)
        return [
            semantic_evidence(float(vector @ query.vector), SENTENCE_FLOOR, SENTENCE_CEILING)
            for vector in vectors
        ]

    def _candidates(
        self,
        question: str,
        query: QueryTerms,
        ranked: Sequence[RetrievedPassage],
        units: Sequence[Sequence[Unit]],
        meanings: dict[tuple[int, int], float],
    ) -> dict[tuple[int, int], _Candidate]:
        """Every unit that shares a term with the question or is close to it by meaning."""
        wanted = asked_value(question)
        candidates = {}
        for position, passage in enumerate(ranked):
            analyzer = analyzer_for(passage.language)
            rank_bonus = 0.05 / (1 + position)
            for index, unit in enumerate(units[position]):
                if not MIN_SENTENCE_CHARS <= len(unit.text) <= MAX_SENTENCE_CHARS:
                    continue
                coverage, found = query.coverage(set(analyzer.terms(unit.text)))
                meaning = meanings.get((position, index), 0.0)
                if not found and meaning <= 0:
                    continue
                score = coverage + MEANING_WEIGHT * meaning + 0.15 * passage.evidence + rank_bonus
                # "Because", "after", "بعد أن" are common words: a cause counts only in a
                # sentence on the question's topic.
                on_topic = wanted != "reason" or coverage + meaning >= REASON_RELEVANCE
                if wanted and on_topic and holds_value(unit.text, wanted, question):
                    score += ASKED_VALUE_BONUS
                candidates[(position, index)] = _Candidate(
                    position, unit, score, found, coverage, meaning
                )
        return candidates

    # -- answering ----------------------------------------------------------------------

    def answer(
        self,
        question: str,
        language: str,
        query: QueryTerms,
        passages: Sequence[RetrievedPassage],
        notices: Sequence[str] = (),
        pool: Sequence[RetrievedPassage] = (),
    ) -> Answer:
        """Answer from `passages`; `pool`, a longer ranking that starts with them, is where
        the figures a number or date question asks for are looked for as well."""
        best_evidence = max((p.evidence for p in passages), default=0.0)
        if (not query.weights and query.vector is None) or best_evidence < self.min_evidence:
            return abstention(question, language, notices)
        given = {p.passage_id for p in passages}
        ranked = [*passages, *(p for p in pool if p.passage_id not in given)]
        units = [passage_units(p.text, title=p.title, language=p.language) for p in ranked]
        wanted = asked_value(question)
        meanings = self._meanings(query, ranked, units, len(passages))
        every = self._candidates(question, query, ranked, units, meanings)
        candidates = sorted(
            (c for c in every.values() if c.passage < len(passages)), key=lambda c: -c.score
        )
        if not candidates:
            return abstention(question, language, notices)

        chosen = _choose(candidates, ranked, query)
        reading = _Reading(question, language, query, ranked, units, every, wanted)
        listing = None
        if wanted in ("number", "date"):
            figures = self._figures(reading, chosen)
            listing = _listing(figures)
            if listing is None:
                chosen = self._led_by_value(reading, chosen, figures)
        if listing is not None:
            # The listing cites every figure; its sentences follow as far as the budget goes.
            listed: list[_Candidate] = []
            for candidate in (_best_of(group, language) for group in listing.groups):
                if (
                    not listed
                    or sum(len(c.text) for c in listed) + len(candidate.text) <= MAX_ANSWER_CHARS
                ):
                    listed.append(candidate)
            shown = _with_previous(listed, ranked, units, budget=MAX_ANSWER_CHARS)
        else:
            shown = _with_previous(chosen, ranked, units, budget=MAX_ANSWER_CHARS)
        return self._compose(question, language, ranked, shown, listing, wanted, notices)

    def _led_by_value(
        self, reading: _Reading, chosen: list[_Candidate], figures: Sequence[_Figure]
    ) -> list[_Candidate]:
        """The chosen sentences, led by one that gives what a number or date question asks
        for: the figure found for it, or, when no chosen sentence gives one, the best
        sentence of the pool that does (if it covers the question's words or meaning)."""
        question, ranked, wanted = reading.question, reading.ranked, reading.wanted

        def gives(candidate: _Candidate) -> bool:
            language = ranked[candidate.passage].language
            return bool(_fitting_values(candidate.text, language, wanted, question))

        lead = None
        if figures:
            lead = max(figures, key=lambda figure: figure.candidate.score).candidate
        elif not any(map(gives, chosen)):
            lead = self._best_giving(reading, chosen)
        if lead is None:
            return chosen
        led = [lead, *(c for c in chosen if not _overlaps(c, lead, ranked))][:MAX_SENTENCES]
        while len(led) > 1 and sum(len(c.text) for c in led) > MAX_ANSWER_CHARS:
            led.pop()
        return led

    def _best_giving(self, reading: _Reading, chosen: Sequence[_Candidate]) -> _Candidate | None:
        """The best scored unit of the pool that gives a value of the asked kind and covers
        the question's words or meaning; None when there is none."""
        question, query, ranked = reading.question, reading.query, reading.ranked
        units, every, wanted = reading.units, reading.every, reading.wanted
        relevant: list[_Candidate] = []
        unsure: list[tuple[int, int]] = []
        for position, passage in enumerate(ranked):
            for index, unit in enumerate(units[position]):
                if not MIN_SENTENCE_CHARS <= len(unit.text) <= MAX_SENTENCE_CHARS:
                    continue
                if not _fitting_values(unit.text, passage.language, wanted, question):
                    continue
                candidate = every.get((position, index))
                if candidate is not None and (
                    candidate.coverage >= FIGURE_COVERAGE or candidate.meaning > 0
                ):
                    relevant.append(candidate)
                elif candidate is None or candidate.meaning == 0:
                    unsure.append((position, index))
        meanings = self._meaning_of(query, [units[p][i].text for p, i in unsure])
        for (position, index), meaning in zip(unsure, meanings, strict=False):
            if meaning > 0:
                known = every.get((position, index))
                coverage = known.coverage if known else 0.0
                relevant.append(
                    _Candidate(
                        position,
                        units[position][index],
                        coverage + MEANING_WEIGHT * meaning,
                        known.found if known else set(),
                        coverage,
                        meaning,
                    )
                )
        relevant = [c for c in relevant if not any(_overlaps(c, o, ranked) for o in chosen)]
        return max(relevant, key=lambda c: c.score, default=None)

    def _nouns_close(self, asked: str, noun: str) -> bool:
        """Whether a counted noun in another language is the asked one, by meaning."""
        if self.sentence_vectors is None or not asked or not noun:
            return False
        first, second = self.sentence_vectors.of([asked.lower(), noun.lower()])
        return float(first @ second) >= NOUN_MATCH

    def _figures(self, reading: _Reading, chosen: Sequence[_Candidate]) -> list[_Figure]:
        """The figures (or dates) the passages give for what was asked, one per unit.

        A how-many question names what it counts ("users"): a figure counts if it counts
        that (by stem in the question's language, by meaning across languages) in a unit
        that covers the question's words or meaning, or counts the very same thing (the
        same words after the figure, in one language) as such a figure anywhere in the
        pool: that is how "170 مليون مستخدم" joins "80 مليون مستخدم". Otherwise only the
        sentences chosen for the answer give figures.
        """
        question, language, query = reading.question, reading.language, reading.query
        ranked, units, every, wanted = reading.ranked, reading.units, reading.every, reading.wanted
        noun = asked_noun(question) if wanted == "number" else None
        if noun and asked_quantity(question) not in ("count", "any"):
            noun = None
        chosen_keys = {(c.passage, c.unit.start) for c in chosen}
        found: dict[tuple[int, int], list[Value]] = {}
        # Units whose figures count the asked thing but whose relevance is not known yet.
        unsure: dict[tuple[int, int], list[Value]] = {}
        for position, passage in enumerate(ranked):
            for index, unit in enumerate(units[position]):
                values = _fitting_values(unit.text, passage.language, wanted, question)
                if not values:
                    continue
                candidate = every.get((position, index))
                if not noun:
                    if (position, unit.start) in chosen_keys:
                        found[(position, index)] = values
                    continue
                if passage.language == language:
                    values = [v for v in values if nouns_match(noun, v.noun, language)]
                else:
                    values = [v for v in values if self._nouns_close(noun, v.noun)]
                if not values:
                    continue
                if candidate is not None and (
                    candidate.coverage >= FIGURE_COVERAGE or candidate.meaning > 0
                ):
                    found[(position, index)] = values
                else:
                    unsure[(position, index)] = values
        if unsure:
            # No meanings without an embedding: then only figures found by their words.
            keys = list(unsure)
            meanings = self._meaning_of(query, [units[p][i].text for p, i in keys])
            for key, meaning in zip(keys, meanings, strict=False):
                if meaning > 0:
                    found[key] = unsure[key]
                    every.setdefault(
                        key, _Candidate(key[0], units[key[0]][key[1]], meaning, set(), 0.0, meaning)
                    )
        if noun:
            _bridge(found, ranked, units, wanted, question)
        figures = []
        singles = [values[0] for values in found.values() if len(values) == 1]
        for (position, index), values in found.items():
            passage = ranked[position]
            value = _pick(
                values,
                passage.language,
                query,
                units[position][index].text,
                singles,
                same_language=passage.language == language,
            )
            candidate = every.get((position, index)) or _Candidate(
                position, units[position][index], 0.0, set(), 0.0, 0.0
            )
            figures.append(_Figure(candidate, value, passage.language, passage.source))
        return _most_specific(figures, noun, language, query)

    def _compose(
        self,
        question: str,
        language: str,
        ranked: Sequence[RetrievedPassage],
        shown: list[_Shown],
        listing: _Listing | None,
        wanted: str | None,
        notices: Sequence[str],
    ) -> Answer:
        """The answer's text and citations: the listing of figures, then the sentences in
        the question's language, then those of each article in another language after a
        note naming it; the sentence holding what was asked leads each group."""

        def own_language(item: _Shown) -> bool:
            passage = ranked[item.candidate.passage]
            return passage.language in (language, "und")

        mine = [item for item in shown if own_language(item)]
        others = [item for item in shown if not own_language(item)]
        if wanted in ("number", "date", "name"):

            def lacks(item: _Shown) -> bool:
                return not holds_value(item.text, wanted, question)

            mine.sort(key=lacks)
            others.sort(key=lacks)
            if (
                listing is None
                and wanted != "name"
                and mine
                and all(map(lacks, mine))
                and not all(map(lacks, others))
            ):
                mine = []  # they don't give what was asked; a sentence in another language does
        by_article: dict[str, list[_Shown]] = {}
        for item in others:
            by_article.setdefault(ranked[item.candidate.passage].source, []).append(item)

        number_of: dict[int, int] = {}
        highlights: dict[int, list[tuple[int, int]]] = {}

        def cite(position: int, segments: Sequence[tuple[int, int]]) -> int:
            n = number_of.setdefault(position, len(number_of) + 1)
            spans = highlights.setdefault(position, [])
            spans += [span for span in segments if span not in spans]
            return n

        parts: list[str] = []
        if listing is not None:
            items: list[str] = []
            for group in listing.groups:
                marks = []
                for figure in group:
                    n = cite(figure.candidate.passage, figure.candidate.unit.segments)
                    if f"[{n}]" not in marks:
                        marks.append(f"[{n}]")
                items.append(f"{_figure_text(group, language)} {''.join(marks)}")
            parts.append(differ_sentence(items, language))
        for item in mine:
            parts.append(f"{item.text} [{cite(item.candidate.passage, item.segments)}]")
        for quoted in by_article.values():
            parts.append(language_note(language, ranked[quoted[0].candidate.passage]))
            for item in quoted:
                parts.append(f"{item.text} [{cite(item.candidate.passage, item.segments)}]")
        citations = [
            Citation.of(n, ranked[position], highlights[position])
            for position, n in number_of.items()
        ]
        return Answer(
            question=question,
            answer=" ".join(parts),
            abstained=False,
            language=language,
            citations=citations,
            notices=list(notices),
        )


def _fitting_values(
    text: str, language: str, wanted: str | None, question: str | None
) -> list[Value]:
    """The values of `text` of the kind a number or date question asks for."""
    if wanted == "date":
        return [v for v in values_in(text, language) if v.kind == "date"]
    if wanted != "number":
        return []
    quantity = asked_quantity(question) if question else "any"
    kinds = {"count", "money", "percent"} if quantity == "any" else {quantity}
    return [v for v in values_in(text, language) if v.kind in kinds]


def _bridge(
    found: dict[tuple[int, int], list[Value]],
    ranked: Sequence[RetrievedPassage],
    units: Sequence[Sequence[Unit]],
    wanted: str | None,
    question: str,
) -> None:
    """Add the figures that count what a found figure counts, in its language (the same
    words after the figure: "مليون مستخدم"), wherever they are in the pool."""
    anchors = [
        (ranked[position].language, value.noun_terms)
        for (position, _), values in found.items()
        for value in values
        if value.noun_terms
    ]
    for position, passage in enumerate(ranked):
        for index, unit in enumerate(units[position]):
            if (position, index) in found:
                continue
            values = [
                value
                for value in _fitting_values(unit.text, passage.language, wanted, question)
                if any(
                    language == passage.language and set(terms) <= set(value.noun_terms)
                    for language, terms in anchors
                )
            ]
            if values:
                found[(position, index)] = values


def _most_specific(
    figures: list[_Figure], noun: str | None, language: str, query: QueryTerms
) -> list[_Figure]:
    """When figures in the question's language count the asked thing with a word the
    question adds to it ("مستخدم نشط", active users), only those: the others may count
    something wider, and a figure in another language cannot be told apart."""
    if not noun:
        return figures
    qualifiers = set(query.weights) - set(analyzer_for(language).terms(noun))
    specific = [
        figure
        for figure in figures
        if figure.language == language and set(figure.value.noun_terms[1:]) & qualifiers
    ]
    return specific or figures


def _pick(
    values: Sequence[Value],
    language: str,
    query: QueryTerms,
    text: str,
    singles: Sequence[Value],
    *,
    same_language: bool,
) -> Value:
    """The one figure of a unit that answers: the one whose clause holds most of the
    question's words (in the question's language: across languages the words shared are
    names, which say nothing of which figure is meant); else the one closest to what the
    other sources say."""
    if len(values) == 1:
        return values[0]
    if same_language:
        analyzer = analyzer_for(language)
        coverages = [
            query.coverage(set(analyzer.terms(_clause(text, value))))[0] for value in values
        ]
        if max(coverages) > min(coverages):
            return values[coverages.index(max(coverages))]
    others = [v for v in singles if v not in values and v.amount]
    if others:
        middle = statistics.median(v.amount or 0.0 for v in others)
        reference = Value(0, 0, "count", amount=middle)
        return min(values, key=lambda value: log_distance(value, reference))
    return values[0]


_CLAUSE_BREAKS = ",،;؛()–—"


def _clause(text: str, value: Value) -> str:
    """The part of `text` between the breaks (commas, dashes, brackets) around `value`."""
    start = value.start
    while start > 0 and text[start - 1] not in _CLAUSE_BREAKS and text[start - 2 : start] != " -":
        start -= 1
    end = value.end
    while end < len(text) and text[end] not in _CLAUSE_BREAKS and text[end : end + 2] != " -":
        end += 1
    return text[start:end]


def _listing(figures: Sequence[_Figure]) -> _Listing | None:
    """The figures grouped by what they say, when at least two sources say different
    things; the best supported groups, in order of size (or time)."""
    groups: list[list[_Figure]] = []
    for figure in sorted(figures, key=lambda f: -f.candidate.score):
        for group in groups:
            if same_value(group[0].value, figure.value):
                group.append(figure)
                break
        else:
            groups.append([figure])
    if len(groups) < 2 or len({f.source for f in figures}) < 2:
        return None
    groups = groups[:MAX_FIGURES]
    groups.sort(key=lambda group: value_order(group[0].value))
    return _Listing(groups)


def _best_of(group: Sequence[_Figure], language: str) -> _Candidate:
    """The unit to quote for a figure: one in the question's language if any, else the
    best scored."""
    return min(group, key=lambda f: (f.language != language, -f.candidate.score)).candidate


def _figure_text(group: Sequence[_Figure], language: str) -> str:
    """A figure as the answer lists it: as written when a source in the question's
    language gives it, else in the question's language's words."""
    for figure in group:
        if figure.language == language:
            return written_value(figure.value)
    return render_value(group[0].value, language)


def _overlaps(a: _Candidate, b: _Candidate, ranked: Sequence[RetrievedPassage]) -> bool:
    """Whether two units show some of the same article text (passages overlap)."""
    first, second = ranked[a.passage], ranked[b.passage]
    if first.source != second.source:
        return False
    return any(
        first.start + s1 < second.start + e2 and second.start + s2 < first.start + e1
        for s1, e1 in a.unit.segments
        for s2, e2 in b.unit.segments
    )


def _choose(
    candidates: Sequence[_Candidate], ranked: Sequence[RetrievedPassage], query: QueryTerms
) -> list[_Candidate]:
    """The best candidates that add something, within the length budget."""
    chosen: list[_Candidate] = []
    covered: set[str] = set()
    seen_texts: set[str] = set()
    best = candidates[0].score
    length = 0
    for candidate in candidates:
        key = normalize(candidate.text)
        if key in seen_texts or any(_overlaps(candidate, c, ranked) for c in chosen):
            continue
        total = query.total or 1.0
        gain = sum(query.weights.get(term, 0.0) for term in candidate.found - covered) / total
        if chosen and (
            candidate.score < 0.5 * best or (gain < MIN_GAIN and candidate.score < 0.85 * best)
        ):
            continue
        if chosen and length + len(candidate.text) > MAX_ANSWER_CHARS:
            continue
        chosen.append(candidate)
        covered |= candidate.found
        seen_texts.add(key)
        length += len(candidate.text)
        if len(chosen) == MAX_SENTENCES:
            break
    return chosen


def _with_previous(
    chosen: Sequence[_Candidate],
    ranked: Sequence[RetrievedPassage],
    units: Sequence[Sequence[Unit]],
    *,
    budget: int,
) -> list[_Shown]:
    """The chosen units as shown: one that leans on the sentence before it ("such data",
    "cela", "ذلك") brings that sentence along when the answer has room for it."""
    length = sum(len(c.text) for c in chosen)
    shown: list[_Shown] = []
    taken = {(c.passage, c.unit.start) for c in chosen}
    for candidate in chosen:
        segments = list(candidate.unit.segments)
        text = candidate.text
        unit = candidate.unit
        if unit.leans and unit.previous is not None:
            previous = units[candidate.passage][unit.previous]
            if (candidate.passage, previous.start) not in taken and (
                length + len(previous.text) + 1 <= budget
            ):
                segments = [*previous.segments, *segments]
                text = f"{previous.text} {text}"
                length += len(previous.text) + 1
                taken.add((candidate.passage, previous.start))
        shown.append(_Shown(candidate, segments, text))
    return shown
