"""Extractive answers: the sentence of the best passages that answers the question, cited,
or an honest refusal.

The sentences are weighed by rag/answering/sentences.py and the question judged by
rag/answering/answerability.py, both with the setup's calibration. An answer is one
sentence unless another adds something that answers: the figures other sources give for
the same thing (rag/answering/figures.py), a sentence of another passage that answers on
its own, nearly as likely, and gives the kind of value asked for, or the sentence the
quoted one leans on ("such data").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prompts import localized_prompt, localized_table
from rag.answering.answerability import Answerability, judge
from rag.answering.figures import (
    FIGURE_POOL,
    Listing,
    best_of,
    figure_text,
    find_figures,
    listing_of,
)
from rag.answering.sentences import (
    KnownName,
    Reading,
    Sentence,
    SentenceVectors,
    read_sentences,
    sentence_features,
    weigh_sentences,
)
from rag.calibration import Calibration
from rag.models import Answer, Citation, RetrievedPassage
from rag.retrieval.query_terms import QueryTerms
from rag.text.analysis import normalize
from rag.text.places import places_in
from rag.text.sentence_units import passage_units
from rag.text.values import (
    asked_noun,
    asked_quantity,
    asked_value,
    asked_values,
    asks_date_first,
    differ_sentence,
    holds_value,
    spells_a_count,
)

__all__ = [
    "FIGURE_POOL",
    "ExtractiveAnswerer",
    "SentenceVectors",
    "abstention",
    "abstention_text",
    "asked_value",
    "holds_value",
    "language_note",
]

MAX_ANSWER_CHARS = 900
MAX_SENTENCES = 3
# A sentence of another passage joins the lead only if it answers on its own and is nearly
# as likely to (within this many logits).
SECOND_WITHIN = 1.0
# The bundled model's similarity at which a counted noun in another language is the
# asked one ("users" / "مستخدم" 0.89, "utilisateurs" / "users" 0.93, but "utilisateurs" /
# "دقائق" 0.88, "vues" / "users" 0.87): calibrated on the seeds' nouns.
NOUN_MATCH = 0.89

ArticleTerms = Callable[[RetrievedPassage], Sequence[set[str]]]


def abstention_text(language: str) -> str:
    """ "The articles don't cover this…", in `language` (English for one newsbot doesn't
    speak)."""
    return localized_prompt("abstain", language)


def abstention(
    question: str,
    language: str,
    notices: Sequence[str] = (),
    answerability: float | None = None,
) -> Answer:
    return Answer(
        question=question,
        answer=abstention_text(language),
        abstained=True,
        language=language,
        citations=[],
        notices=list(notices),
        answerability=answerability,
    )


# What an answer's readers, and every front end, take for a citation marker.
_MARKER_RE = re.compile(r"\[(\d+)\]")


def quoted(text: str) -> str:
    """Article text as an answer quotes it: a bracketed number it holds ("[99]", a
    footnote) is shown in full-width brackets ("［99］"), so that every [n] of an answer is
    one of its citations."""
    return _MARKER_RE.sub(r"［\1］", text)


def language_note(question_language: str, passage: RetrievedPassage) -> str:
    """ "From the Arabic article “…”:", in the question's language, before sentences quoted
    from an article in another language."""
    templates = localized_table("from_article", question_language)
    template = templates.get(passage.language) or templates["other"]
    title = quoted(" ".join(passage.title.split()))
    if len(title) > 60:
        title = title[:59].rstrip() + "…"
    return template.replace("${title}", title)


@dataclass
class _Shown:
    """A sentence as the answer shows it: one unit, or a unit with the one it leans on."""

    sentence: Sentence
    segments: list[tuple[int, int]]
    text: str


def _no_article_terms(passage: RetrievedPassage) -> Sequence[set[str]]:
    return ()


class ExtractiveAnswerer:
    """Quotes the sentence that answers, cited; refuses when the calibrated likelihood
    that the articles answer is below the threshold.

    The lead is the most likely sentence of the best passage that answers (a sentence of a
    weaker passage leads only when it gives the kind of value asked for and the better
    passage gives none). Sentences in another language than the question's follow a short
    note naming their article.
    """

    def __init__(
        self,
        *,
        calibration: Calibration,
        threshold: float | None = None,
        sentence_vectors: SentenceVectors | None = None,
        article_terms: ArticleTerms = _no_article_terms,
        known_name: KnownName | None = None,
    ) -> None:
        self.calibration = calibration
        self.threshold = calibration.threshold if threshold is None else threshold
        self.sentence_vectors = sentence_vectors
        self.article_terms = article_terms
        self.known_name = known_name

    def read(
        self,
        question: str,
        language: str,
        query: QueryTerms,
        passages: Sequence[RetrievedPassage],
        pool: Sequence[RetrievedPassage] = (),
    ) -> Reading:
        """The question read against `passages` (and `pool`, for figures): every sentence
        weighed."""
        given = {p.passage_id for p in passages}
        ranked = [*passages, *(p for p in pool if p.passage_id not in given)]
        return read_sentences(
            question,
            language,
            query,
            ranked,
            calibration=self.calibration,
            vectors=self.sentence_vectors,
            article_terms=self.article_terms,
            answered_from=len(passages),
            scale=self.calibration.similarity_scale,
            **({"known_name": self.known_name} if self.known_name else {}),
        )

    def judge(self, reading: Reading) -> Answerability:
        return judge(reading.sentences, self.calibration, self.threshold, reading.absent_names)

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
        if not passages or (not query.weights and query.vector is None):
            return abstention(question, language, notices, 0.0)
        reading = self.read(question, language, query, passages, pool)
        verdict = self.judge(reading)
        if reading.unheld:
            # It asks about something that no article mentions, in any script.
            unheld = localized_table("unheld", language)["text"].replace(
                "${names}", ", ".join(f"“{name}”" for name in reading.unheld)
            )
            return abstention(question, language, [*notices, unheld], 0.0)
        if not verdict.answerable:
            return abstention(question, language, notices, verdict.likelihood)
        places = _figure_places(reading)

        def answers_here(sentence: Sentence) -> bool:
            return self._answers(sentence) and _in_place(sentence, places, reading)

        if places and not any(answers_here(s) for s in reading.sentences):
            # It asks for a figure of a place that no sentence that answers is about.
            return abstention(question, language, notices, verdict.likelihood)
        figures = []
        if reading.wanted in ("number", "date"):
            figures = find_figures(
                reading,
                answers_here,
                self._pool_sentences(reading),
                self._nouns_close,
                lambda sentence: (
                    _in_place(sentence, places, reading) and sentence.features["similarity"] >= 0
                ),
            )
            counted = asked_noun(question) if asked_quantity(question) == "count" else None
            if counted:
                # What counts the asked thing gives a figure of it, or a count in words ("à
                # deux reprises"), or a figure of nothing named: not the count of something
                # else ("80 million users" is no answer to how many employees).
                given = bool(figures) or any(
                    answers_here(s)
                    and (
                        spells_a_count(s.text)
                        or any(
                            not v.noun
                            for v in asked_values(
                                s.text, reading.ranked[s.passage].language, "number", question
                            )
                        )
                    )
                    for s in reading.sentences
                )
            else:
                given = bool(figures) or any(s.typed and answers_here(s) for s in reading.sentences)
            if not given and _needs_value(reading):
                # It asks for a date or a figure that no sentence that answers gives.
                return abstention(question, language, notices, verdict.likelihood)
        lead = self._lead(reading)
        listing: Listing | None = None
        chosen = [lead]
        if reading.wanted in ("number", "date"):
            listing = listing_of(figures, lead)
            if (
                listing is None
                and figures
                and not any(f.sentence is lead or _same_unit(f.sentence, lead) for f in figures)
            ):
                best = max(figures, key=lambda f: f.sentence.logit).sentence
                if not asked_values(
                    lead.text, reading.ranked[lead.passage].language, reading.wanted, question
                ):
                    chosen = [best]
        if listing is not None:
            # The listing cites every figure; its sentences follow as far as the budget goes.
            listed: list[Sentence] = []
            for sentence in (best_of(group, language) for group in listing.groups):
                if not listed or sum(len(s.text) for s in listed) + len(sentence.text) <= (
                    MAX_ANSWER_CHARS
                ):
                    listed.append(sentence)
            chosen = listed
        else:
            for other in self._others(reading, chosen[0]):
                if sum(len(s.text) for s in chosen) + len(other.text) <= MAX_ANSWER_CHARS:
                    chosen.append(other)
        shown = _with_previous(chosen, reading, budget=MAX_ANSWER_CHARS)
        return _compose(reading, shown, listing, notices, verdict.likelihood)

    # -- choosing ---------------------------------------------------------------------

    def _answers(self, sentence: Sentence) -> bool:
        """Whether a sentence is likely enough to answer on its own."""
        return sentence.logit >= self.calibration.sentence_threshold

    def _lead(self, reading: Reading) -> Sentence:
        """The most likely sentence of the best passage that has one that answers; a
        sentence of a weaker passage when it gives the asked kind of value and the better
        passage gives none."""
        places = _figure_places(reading)
        sentences = reading.sentences
        answering = [s for s in sentences if self._answers(s) and _in_place(s, places, reading)]
        if not answering:
            return max(sentences, key=lambda s: s.logit)
        first = min(s.passage for s in answering)
        lead = max((s for s in answering if s.passage == first), key=lambda s: s.logit)
        if reading.wanted in ("number", "date") and not lead.typed:
            # A name or a cause cannot always be told (Arabic has no capitals): only a
            # figure or a date moves the lead to a weaker passage.
            typed = [s for s in answering if s.typed and s.passage != first]
            if typed and not any(s.typed for s in reading.of(first)):
                lead = max(typed, key=lambda s: s.logit)
        if reading.wanted == "reason" and _opens_article(lead, reading.ranked):
            # A news story's first sentence says what happened; why comes after it.
            source = reading.ranked[lead.passage].source
            causes = [
                s
                for s in answering
                if s.typed
                and reading.ranked[s.passage].source == source
                and not _opens_article(s, reading.ranked)
            ]
            if causes:
                lead = max(causes, key=lambda s: s.logit)
        return lead

    def _others(self, reading: Reading, lead: Sentence) -> list[Sentence]:
        """Sentences of other passages that answer too, nearly as likely as the lead: the
        best of each passage, at most MAX_SENTENCES - 1."""
        best_of_passage: dict[int, Sentence] = {}
        for sentence in reading.sentences:
            if sentence.passage == lead.passage or not self._answers(sentence):
                continue
            if reading.wanted and not sentence.typed:
                continue  # it does not give what was asked: it adds nothing that answers
            if sentence.logit < lead.logit - SECOND_WITHIN:
                continue
            if normalize(sentence.text) == normalize(lead.text) or _overlaps(
                sentence, lead, reading.ranked
            ):
                continue
            known = best_of_passage.get(sentence.passage)
            if known is None or sentence.logit > known.logit:
                best_of_passage[sentence.passage] = sentence
        others = sorted(best_of_passage.values(), key=lambda s: -s.logit)
        return others[: MAX_SENTENCES - 1]

    def _pool_sentences(self, reading: Reading) -> Callable[[Sequence[int]], list[Sentence]]:
        def weigh(positions: Sequence[int]) -> list[Sentence]:
            if not positions:
                return []
            found = sentence_features(
                reading,
                positions,
                self.sentence_vectors,
                self.article_terms,
                self.calibration.similarity_scale,
            )
            weigh_sentences(found, self.calibration)
            return found

        return weigh

    def _nouns_close(self, asked: str, noun: str) -> bool:
        """Whether a counted noun in another language is the asked one, by meaning."""
        if self.sentence_vectors is None or not asked or not noun:
            return False
        first, second = self.sentence_vectors.of([asked.lower(), noun.lower()])
        return float(first @ second) >= NOUN_MATCH


def _opens_article(sentence: Sentence, ranked: Sequence[RetrievedPassage]) -> bool:
    """Whether a sentence is its article's first (the headline aside)."""
    return ranked[sentence.passage].start == 0 and sentence.index == 0


def _figure_places(reading: Reading) -> frozenset[str]:
    """The places a number or date question names: what its figure must be about (a place
    in another question is often only its context: "an ally of the United States")."""
    if reading.wanted not in ("number", "date"):
        return frozenset()
    return places_in(reading.question, reading.language)


def _in_place(sentence: Sentence, places: frozenset[str], reading: Reading) -> bool:
    """Whether a sentence is about the places the question names (any, if it names none):
    it names one of them, or names no place and its passage names one. The users of the
    United States are no answer to a question about India."""
    if not places:
        return True
    passage = reading.ranked[sentence.passage]
    named = places_in(sentence.text, passage.language)
    if named:
        return bool(named & places)
    return bool(places_in(passage.text, passage.language) & places)


def _needs_value(reading: Reading) -> bool:
    """Whether only a value answers: a date asked for as such ("When was…", "Quand…",
    "متى…", not "what happens when…"), or a count, an amount or a percentage ("how many",
    "combien de", "كم عدد"); "how long" or "how old" may be answered in words."""
    if reading.wanted == "date":
        return asks_date_first(reading.question)
    return reading.wanted == "number" and asked_quantity(reading.question) != "any"


def _same_unit(a: Sentence, b: Sentence) -> bool:
    return a.passage == b.passage and a.index == b.index


def _overlaps(a: Sentence, b: Sentence, ranked: Sequence[RetrievedPassage]) -> bool:
    """Whether two sentences show some of the same article text (passages overlap)."""
    first, second = ranked[a.passage], ranked[b.passage]
    if first.source != second.source:
        return False
    return any(
        first.start + s1 < second.start + e2 and second.start + s2 < first.start + e1
        for s1, e1 in a.unit.segments
        for s2, e2 in b.unit.segments
    )


def _with_previous(chosen: Sequence[Sentence], reading: Reading, *, budget: int) -> list[_Shown]:
    """The chosen sentences as shown: one that leans on the sentence before it ("such
    data", "cela", "ذلك") brings that sentence along when the answer has room for it."""
    length = sum(len(s.text) for s in chosen)
    shown: list[_Shown] = []
    taken = {(s.passage, s.unit.start) for s in chosen}
    for sentence in chosen:
        segments = list(sentence.unit.segments)
        text = sentence.text
        unit = sentence.unit
        if unit.leans and unit.previous is not None:
            passage = reading.ranked[sentence.passage]
            units = passage_units(passage.text, title=passage.title, language=passage.language)
            previous = units[unit.previous]
            if (sentence.passage, previous.start) not in taken and (
                length + len(previous.text) + 1 <= budget
            ):
                segments = [*previous.segments, *segments]
                text = f"{previous.text} {text}"
                length += len(previous.text) + 1
                taken.add((sentence.passage, previous.start))
        shown.append(_Shown(sentence, segments, text))
    return shown


def _compose(
    reading: Reading,
    shown: list[_Shown],
    listing: Listing | None,
    notices: Sequence[str],
    likelihood: float,
) -> Answer:
    """The answer's text and citations: the listing of figures, then the sentences in the
    order chosen, each run of sentences from an article in another language after a note
    naming it."""
    ranked, language = reading.ranked, reading.language
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
                n = cite(figure.sentence.passage, figure.sentence.unit.segments)
                if f"[{n}]" not in marks:
                    marks.append(f"[{n}]")
            items.append(f"{figure_text(group, language)} {''.join(marks)}")
        parts.append(differ_sentence(items, language))
    noted: str | None = None
    for item in shown:
        passage = ranked[item.sentence.passage]
        if passage.language in (language, "und"):
            noted = None
        elif passage.source != noted:
            parts.append(language_note(language, passage))
            noted = passage.source
        parts.append(f"{quoted(item.text)} [{cite(item.sentence.passage, item.segments)}]")
    citations = [
        Citation.of(n, ranked[position], highlights[position]) for position, n in number_of.items()
    ]
    return Answer(
        question=reading.question,
        answer=" ".join(parts),
        abstained=False,
        language=language,
        citations=citations,
        notices=list(notices),
        answerability=likelihood,
    )
