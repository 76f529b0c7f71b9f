"""Figures and dates side by side: when the sources give different values for what a
number or date question asks, the answer lists them first ("The sources differ: about 80
million [1], nearly 100 million [2]…").

Only sentences that answer the question give figures (the calibration's sentence model:
"how many users in India?" is not answered by the US user counts). A how-many question
names what it counts ("users"): a figure counts if it counts that (by stem in the
question's language, by meaning across languages), or counts the very same thing (the same
words after the figure, in one language) as such a figure anywhere in the pool: that is how
"170 مليون مستخدم" joins "80 مليون مستخدم".
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.answering.sentences import Reading, Sentence
from rag.retrieval.query_terms import QueryTerms
from rag.text.analysis import analyzer_for
from rag.text.values import (
    Value,
    asked_noun,
    asked_quantity,
    asked_values,
    log_distance,
    nouns_match,
    render_value,
    same_value,
    value_order,
    written_value,
)

# How many passages the engine hands over for a number or date question, beyond those
# answered from: the figures sources give are looked for in all of them.
FIGURE_POOL = 50
# At most this many different figures are listed side by side.
MAX_FIGURES = 4


@dataclass
class Figure:
    """A figure or date a sentence gives for what was asked."""

    sentence: Sentence
    value: Value
    language: str
    source: str


@dataclass
class Listing:
    """Different figures, each with the sentences that give it."""

    groups: list[list[Figure]] = field(default_factory=list)


def find_figures(
    reading: Reading,
    answers: Callable[[Sentence], bool],
    pool_sentences: Callable[[Sequence[int]], list[Sentence]],
    nouns_close: Callable[[str, str], bool],
    in_place: Callable[[Sentence], bool],
) -> list[Figure]:
    """The figures (or dates) that the answering sentences of the ranking and its pool give
    for what was asked, one per sentence. A figure that counts the very thing a how-many
    question counts ("users") needs only be about the place asked for: a sentence deep in
    the pool may not read as an answer on its own."""
    question, language, query = reading.question, reading.language, reading.query
    ranked, wanted = reading.ranked, reading.wanted
    noun = asked_noun(question) if wanted == "number" else None
    if noun and asked_quantity(question) not in ("count", "any"):
        noun = None
    # Pool passages are weighed only where they give a value of the asked kind.
    pool = [
        position
        for position in range(reading.answered_from, len(ranked))
        if any(
            asked_values(unit.text, ranked[position].language, wanted, question)
            for unit in reading.units[position]
        )
    ]
    sentences = [*reading.sentences, *pool_sentences(pool)]
    found: dict[tuple[int, int], tuple[Sentence, list[Value]]] = {}
    for sentence in sentences:
        passage = ranked[sentence.passage]
        values = asked_values(sentence.text, passage.language, wanted, question)
        if not values or not (answers(sentence) or (noun and in_place(sentence))):
            continue
        if noun:
            if passage.language == language:
                values = [v for v in values if nouns_match(noun, v.noun, language)]
            else:
                values = [v for v in values if nouns_close(noun, v.noun)]
        if values:
            found[(sentence.passage, sentence.index)] = (sentence, values)
    if noun and found:
        _bridge(found, sentences, reading)
    figures = []
    singles = [values[0] for _, values in found.values() if len(values) == 1]
    for sentence, values in found.values():
        passage = ranked[sentence.passage]
        value = _pick(
            values,
            passage.language,
            query,
            sentence.text,
            singles,
            same_language=passage.language == language,
        )
        figures.append(Figure(sentence, value, passage.language, passage.source))
    return _most_specific(figures, noun, language, query)


def _bridge(
    found: dict[tuple[int, int], tuple[Sentence, list[Value]]],
    sentences: Sequence[Sentence],
    reading: Reading,
) -> None:
    """Add the figures that count what a found figure counts, in its language (the same
    words after the figure: "مليون مستخدم"), wherever they are in the pool."""
    ranked = reading.ranked
    anchors = [
        (ranked[sentence.passage].language, value.noun_terms)
        for sentence, values in found.values()
        for value in values
        if value.noun_terms
    ]
    for sentence in sentences:
        key = (sentence.passage, sentence.index)
        if key in found:
            continue
        language = ranked[sentence.passage].language
        values = [
            value
            for value in asked_values(sentence.text, language, reading.wanted, reading.question)
            if any(
                anchor_language == language and set(terms) <= set(value.noun_terms)
                for anchor_language, terms in anchors
            )
        ]
        if values:
            found[key] = (sentence, values)


def _most_specific(
    figures: list[Figure], noun: str | None, language: str, query: QueryTerms
) -> list[Figure]:
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
    """The one figure of a sentence that answers: the one whose clause holds most of the
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


def listing_of(figures: Sequence[Figure], lead: Sentence | None = None) -> Listing | None:
    """The figures grouped by what they say, when at least two sources say different
    things; the best supported groups, in order of size (or time), but for the one the
    lead sentence's passage gives, which comes first: the first citation is the best
    passage that answers."""
    groups: list[list[Figure]] = []
    for figure in sorted(figures, key=lambda f: -f.sentence.logit):
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
    if lead is not None:
        groups.sort(key=lambda group: all(f.sentence.passage != lead.passage for f in group))
    return Listing(groups)


def best_of(group: Sequence[Figure], language: str) -> Sentence:
    """The sentence to quote for a figure: one in the question's language if any, else the
    most likely to answer."""
    return min(group, key=lambda f: (f.language != language, -f.sentence.logit)).sentence


def figure_text(group: Sequence[Figure], language: str) -> str:
    """A figure as the answer lists it: as written when a source in the question's
    language gives it, else in the question's language's words."""
    for figure in group:
        if figure.language == language:
            return written_value(figure.value)
    return render_value(group[0].value, language)
