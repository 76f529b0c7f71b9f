"""Scoring answers against a question set: per-question scores, figures, floors, comparisons.

Everything here works on plain records, so each figure can be checked by hand;
`run_question_set` is the one function that calls the engine. How each figure treats
abstentions and unanswerable questions is stated in `METRICS` and in the README.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from rag.errors import BadInputError
from rag.text.analysis import normalize
from rag.text.hygiene import check_answer, is_value_keyword

if TYPE_CHECKING:
    from rag.models import RetrievedPassage

Crossing = Literal["same", "cross", "none"]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    counted_over: str
    higher_is_better: bool = True
    unit: str = ""


METRICS: tuple[Metric, ...] = (
    Metric("hit@1", "hit@1", "answerable questions with expected sources"),
    Metric("hit@3", "hit@3", "answerable questions with expected sources"),
    Metric("hit@5", "hit@5", "answerable questions with expected sources"),
    Metric("mrr", "MRR", "answerable questions with expected sources"),
    Metric(
        "keyword_recall",
        "keyword recall",
        "answerable questions with expected keywords (an abstention scores 0)",
    ),
    Metric("citation_validity", "citation validity", "answers (abstentions excluded)"),
    Metric(
        "citation_precision",
        "citation precision",
        "answers to answerable questions with expected sources",
    ),
    Metric("abstention_accuracy", "abstention accuracy", "unanswerable questions"),
    Metric("false_abstention", "false abstention", "answerable questions", False),
    Metric("latency_p50_ms", "latency p50", "questions", False, "ms"),
    Metric("latency_p95_ms", "latency p95", "questions", False, "ms"),
    # Answer hygiene (rag/text/hygiene.py): how the answers read.
    Metric("headline_sentences", "headline sentences", "sentences of answers", False),
    Metric("fragment_sentences", "fragment sentences", "sentences of answers", False),
    Metric("unbalanced_quotes", "unbalanced quotes", "sentences of answers", False),
    Metric(
        "unannounced_mix",
        "unannounced language mix",
        "answers (abstentions excluded)",
        False,
    ),
    Metric(
        "value_first",
        "number or date first",
        "answers to questions whose expected keywords are numbers or dates",
    ),
)
HYGIENE_METRICS = (
    "headline_sentences",
    "fragment_sentences",
    "unbalanced_quotes",
    "unannounced_mix",
    "value_first",
)
METRIC_BY_KEY = {metric.key: metric for metric in METRICS}


# Per-question scoring


_MARKER_RE = re.compile(r"\[(\d+)\]")


def ranked_sources(passages: Iterable[RetrievedPassage]) -> list[str]:
    """Sources of the ranked passages, in rank order, each once."""
    return list(dict.fromkeys(passage.source for passage in passages))


def first_rank(ranked: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first expected source in `ranked`, None when absent."""
    wanted = set(expected)
    for rank, source in enumerate(ranked, 1):
        if source in wanted:
            return rank
    return None


def contains_keyword(text: str, alternative: str) -> bool:
    """Whether `alternative` occurs in `text`, ignoring case, accents and Arabic spelling
    variants. A number must not continue into more digits ("80 million" is not in
    "180 million"), but letters may touch it, so Arabic clitics ("وكندا") still match.
    """
    needle = " ".join(normalize(alternative).split())
    haystack = " ".join(normalize(text).split())
    if not needle:
        return False
    before = r"(?<!\d)" if needle[0].isdigit() else ""
    after = r"(?!\d)" if needle[-1].isdigit() else ""
    return re.search(before + re.escape(needle) + after, haystack) is not None


def strip_markers(answer: str) -> str:
    return _MARKER_RE.sub(" ", answer)


def missing_keyword_groups(answer: str, groups: Sequence[Sequence[str]]) -> list[list[str]]:
    """The groups of which the answer contains no alternative ([n] markers ignored)."""
    text = strip_markers(answer)
    return [list(group) for group in groups if not any(contains_keyword(text, a) for a in group)]


def invalid_markers(answer: str, citation_numbers: Iterable[int]) -> list[int]:
    """The [n] markers that point at no listed citation, each once."""
    listed = set(citation_numbers)
    used = dict.fromkeys(int(number) for number in _MARKER_RE.findall(answer))
    return [number for number in used if number not in listed]


def citation_precision(cited: Sequence[str], expected: Iterable[str]) -> float | None:
    """Share of the distinct cited sources that are expected; None when nothing is cited."""
    distinct = set(cited)
    if not distinct:
        return None
    return len(distinct & set(expected)) / len(distinct)


def crossing_of(
    language: str, expected_sources: Iterable[str], source_languages: Mapping[str, str]
) -> Crossing:
    """ "cross" when the question's language differs from every expected source's language.

    Sources whose language is unknown (not indexed) are left out; "none" when no
    expected source has a known language.
    """
    languages = {source_languages[s] for s in expected_sources if s in source_languages}
    if not languages:
        return "none"
    return "same" if language in languages else "cross"


class CitedSource(BaseModel):
    n: int
    source: str
    title: str = Field(default="", description="The article's title (to tell headlines).")


class Scores(BaseModel):
    """What one answer earned; None where a figure does not apply to the question."""

    rank: int | None = Field(description="Rank of the first expected source among ranked sources.")
    hit_at_1: bool | None
    hit_at_3: bool | None
    hit_at_5: bool | None
    reciprocal_rank: float | None
    keyword_recall: float | None
    missing_keywords: list[list[str]]
    citation_valid: bool | None
    invalid_markers: list[int]
    citation_precision: float | None
    abstention_correct: bool | None = Field(description="Unanswerable questions only.")
    false_abstention: bool | None = Field(description="Answerable questions only.")
    sentences: int | None = Field(
        default=None, description="Sentences of the answer; None for an abstention."
    )
    headline_sentences: list[str] = Field(
        default_factory=list,
        description="Sentences that are an article's title or a short line without a final stop.",
    )
    fragment_sentences: list[str] = Field(
        default_factory=list,
        description="Sentences opening with a closing quote or a lowercase continuation, or "
        "ending on a colon.",
    )
    unbalanced_quote_sentences: list[str] = Field(default_factory=list)
    unannounced_sentences: list[str] = Field(
        default_factory=list,
        description="Sentences in another language than the question's with no language "
        "note before them.",
    )
    value_first: bool | None = Field(
        default=None,
        description="Whether the first sentence holds a number or a date; for answers to "
        "questions whose expected keywords are numbers or dates.",
    )


class QuestionResult(BaseModel):
    """One question as it was asked and answered; `scores` is derived from the rest."""

    line: int
    id: str
    question: str
    language: str
    answerable: bool
    crossing: Crossing
    expected_sources: list[str]
    expected_keywords: list[list[str]]
    answer: str
    abstained: bool
    mode: str = Field(
        default="extractive", description="How the answer was made: generated or extractive."
    )
    citations: list[CitedSource]
    ranked_sources: list[str]
    seconds: float
    scores: Scores | None = None

    @property
    def cited_sources(self) -> list[str]:
        return list(dict.fromkeys(citation.source for citation in self.citations))


def score(result: QuestionResult) -> Scores:
    """Score one answer. Retrieval figures need an answerable question with expected
    sources; keyword recall needs expected keywords (an abstention recalls nothing);
    citation figures need an answer that is not an abstention."""
    has_sources = result.answerable and bool(result.expected_sources)
    rank = first_rank(result.ranked_sources, result.expected_sources) if has_sources else None

    def hit(k: int) -> bool | None:
        return (rank is not None and rank <= k) if has_sources else None

    missing: list[list[str]] = []
    recall: float | None = None
    if result.answerable and result.expected_keywords:
        groups = result.expected_keywords
        missing = groups if result.abstained else missing_keyword_groups(result.answer, groups)
        recall = 1 - len(missing) / len(groups)

    valid: bool | None = None
    bad_markers: list[int] = []
    precision: float | None = None
    hygiene = None
    if not result.abstained:
        bad_markers = invalid_markers(result.answer, (c.n for c in result.citations))
        valid = not bad_markers and bool(_MARKER_RE.search(result.answer))
        if has_sources:
            precision = citation_precision(result.cited_sources, result.expected_sources)
        titles = list(dict.fromkeys(c.title for c in result.citations if c.title))
        hygiene = check_answer(result.answer, result.language, titles)
    asks_value = result.answerable and any(
        all(is_value_keyword(keyword) for keyword in group) for group in result.expected_keywords
    )
    return Scores(
        rank=rank,
        hit_at_1=hit(1),
        hit_at_3=hit(3),
        hit_at_5=hit(5),
        reciprocal_rank=(1 / rank if rank else 0.0) if has_sources else None,
        keyword_recall=recall,
        missing_keywords=missing,
        citation_valid=valid,
        invalid_markers=bad_markers,
        citation_precision=precision,
        abstention_correct=None if result.answerable else result.abstained,
        false_abstention=result.abstained if result.answerable else None,
        sentences=hygiene.sentences if hygiene else None,
        headline_sentences=hygiene.headlines if hygiene else [],
        fragment_sentences=hygiene.fragments if hygiene else [],
        unbalanced_quote_sentences=hygiene.unbalanced_quotes if hygiene else [],
        unannounced_sentences=hygiene.unannounced_languages if hygiene else [],
        value_first=hygiene.first_holds_value if hygiene and asks_value else None,
    )


def hygiene_problems(result: QuestionResult) -> list[str]:
    """What reads badly in the answer, one line per problem (empty when it reads well)."""
    scores = result.scores or score(result)
    problems = []
    for label, sentences in (
        ("headline", scores.headline_sentences),
        ("fragment", scores.fragment_sentences),
        ("unbalanced quotes", scores.unbalanced_quote_sentences),
        ("another language with no note", scores.unannounced_sentences),
    ):
        problems += [f"{label}: {sentence}" for sentence in sentences]
    if scores.value_first is False:
        problems.append("the first sentence holds no number or date")
    return problems


def scored(result: QuestionResult) -> QuestionResult:
    return result.model_copy(update={"scores": score(result)})


def miss_reasons(result: QuestionResult) -> list[str]:
    """Why the question counts as missed; empty when it passed.

    An answerable question passes when it is answered, with valid markers, citing
    an expected source (if any are given) and containing every keyword group; an
    unanswerable one passes when the answer abstains.
    """
    scores = result.scores or score(result)
    if not result.answerable:
        return [] if result.abstained else ["answered a question the articles don't cover"]
    reasons = []
    if result.expected_sources and scores.rank is None:
        reasons.append("no expected source among the retrieved passages")
    if result.abstained:
        reasons.append("abstained")
        return reasons
    if scores.missing_keywords:
        missing = " · ".join(" / ".join(group) for group in scores.missing_keywords)
        reasons.append(f"missing keywords: {missing}")
    if scores.invalid_markers:
        reasons.append(
            "markers without a source: " + " ".join(f"[{n}]" for n in scores.invalid_markers)
        )
    elif scores.citation_valid is False:
        reasons.append("no [n] marker in the answer")
    if result.expected_sources and scores.citation_precision == 0:
        reasons.append("cites no expected source")
    return reasons


# Figures over groups of questions


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[index]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


class GroupFigures(BaseModel):
    """The figures of one group of questions, and how many questions each is counted over."""

    questions: int
    answerable: int
    values: dict[str, float | None]
    counted: dict[str, int]


def aggregate(results: Sequence[QuestionResult]) -> GroupFigures:
    """Means of the per-question scores that apply, and latency percentiles."""
    samples: dict[str, list[float]] = {metric.key: [] for metric in METRICS}
    for result in results:
        s = result.scores or score(result)
        for key, value in (
            ("hit@1", s.hit_at_1),
            ("hit@3", s.hit_at_3),
            ("hit@5", s.hit_at_5),
            ("mrr", s.reciprocal_rank),
            ("keyword_recall", s.keyword_recall),
            ("citation_validity", s.citation_valid),
            ("citation_precision", s.citation_precision),
            ("abstention_accuracy", s.abstention_correct),
            ("false_abstention", s.false_abstention),
            ("unannounced_mix", bool(s.unannounced_sentences) if s.sentences is not None else None),
            ("value_first", s.value_first),
        ):
            if value is not None:
                samples[key].append(float(value))
        if s.sentences is not None:
            for key, flagged in (
                ("headline_sentences", s.headline_sentences),
                ("fragment_sentences", s.fragment_sentences),
                ("unbalanced_quotes", s.unbalanced_quote_sentences),
            ):
                samples[key] += [1.0] * len(flagged) + [0.0] * (s.sentences - len(flagged))
    latencies = [result.seconds * 1000 for result in results]
    samples["latency_p50_ms"] = samples["latency_p95_ms"] = latencies
    values = {key: _mean(found) for key, found in samples.items()}
    values["latency_p50_ms"] = percentile(latencies, 50)
    values["latency_p95_ms"] = percentile(latencies, 95)
    return GroupFigures(
        questions=len(results),
        answerable=sum(r.answerable for r in results),
        values=values,
        counted={key: len(found) for key, found in samples.items()},
    )


CROSSING_GROUPS = {"same": "same-language", "cross": "cross-lingual"}


def breakdown(results: Sequence[QuestionResult]) -> dict[str, GroupFigures]:
    """Figures for all questions, each question language, then same-language and
    cross-lingual questions (unanswerable questions, having no expected source, are
    in neither of the last two)."""
    groups: dict[str, list[QuestionResult]] = {"all": list(results)}
    for language in sorted({r.language for r in results}):
        groups[language] = [r for r in results if r.language == language]
    for crossing, name in CROSSING_GROUPS.items():
        groups[name] = [r for r in results if r.crossing == crossing]
    return {name: aggregate(members) for name, members in groups.items()}


# Floors and comparisons


def parse_floors(spec: str) -> dict[str, float]:
    """`hit@5=0.6,keyword_recall=0.4` -> {"hit@5": 0.6, "keyword_recall": 0.4}.

    For a figure that is better when lower (false_abstention, fragment_sentences, …,
    latency) the value is a ceiling: the figure fails above it.
    """
    floors: dict[str, float] = {}
    accepted = ", ".join(m.key for m in METRICS)
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, equals, number = item.partition("=")
        key = key.strip().lower()
        metric = METRIC_BY_KEY.get(key)
        if metric is None or not equals:
            raise BadInputError(
                f"--fail-under: {item!r} is not METRIC=VALUE with a metric among {accepted}"
            )
        try:
            floor = float(number)
        except ValueError:
            floor = math.nan
        if metric.unit == "ms":
            if not floor >= 0:
                raise BadInputError(
                    f"--fail-under: the ceiling of {key} must be a number of milliseconds"
                )
        elif not 0 <= floor <= 1:
            bound = "floor" if metric.higher_is_better else "ceiling"
            raise BadInputError(f"--fail-under: the {bound} of {key} must be a number from 0 to 1")
        floors[key] = floor
    if not floors:
        raise BadInputError(f"--fail-under needs METRIC=VALUE[,...] with a metric among {accepted}")
    return floors


def below_floors(figures: GroupFigures, floors: Mapping[str, float]) -> list[str]:
    """One sentence per figure on the wrong side of its bound: under its floor, or over its
    ceiling for a figure that is better when lower (or that could not be computed)."""
    failures = []
    for key, bound in floors.items():
        value = figures.values.get(key)
        if value is None:
            failures.append(f"{key} could not be computed (no question counts towards it)")
        elif METRIC_BY_KEY[key].higher_is_better and value < bound:
            failures.append(f"{key} is {value:.3f}, below its floor {bound:g}")
        elif not METRIC_BY_KEY[key].higher_is_better and value > bound:
            failures.append(f"{key} is {value:.3f}, above its ceiling {bound:g}")
    return failures


# Running the engine
