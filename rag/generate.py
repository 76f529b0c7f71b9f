"""Generated answers that cite their passages, validated as they stream.

The model gets the numbered passages and is asked to cite [n] after each claim. Its
text then goes through `CitationStream`, piece by piece: markers to passages that
were not given are dropped, the others renumbered in order of first use, so what a
front end shows while the answer streams is already the final text. An answer left
without a valid citation falls back to the extractive one, with a notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from rag.analysis import analyzer_for
from rag.answer import abstention
from rag.chunking import split_sentences
from rag.llm import ChatModel, ModelCallError
from rag.models import Answer, AnswerDelta, AnswerEvent, Citation, RetrievedPassage
from rag.prompts import fill_prompt, load_prompt

LANGUAGE_NAMES = {"ar": "Arabic", "fr": "French", "en": "English"}
NO_ANSWER = "NO_ANSWER"
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_NUMBER = r"[0-9٠-٩۰-۹]+"
_SEPARATOR = r"\s*(?:[,،;]|-|–|and|et|و)\s*"
_MARKER = re.compile(rf"\[\s*({_NUMBER}(?:{_SEPARATOR}{_NUMBER})*)\s*\]")
_MARKER_PREFIX = re.compile(r"\[[\s0-9,،;\-–andetو]*$")  # after _DIGITS
_MAX_MARKER_CHARS = 40
_MIN_SHARED_TERMS = 2


def _passage_numbers(group: str) -> list[int]:
    """The passage numbers of a marker's inside: "2", "1, 3", "1-3", "١،٢"."""
    numbers: list[int] = []
    text = group.translate(_DIGITS)
    for part in re.split(r"\s*(?:[,،;]|and|et|و)\s*", text):
        bounds = [int(n) for n in re.split(r"\s*[-–]\s*", part.strip()) if n.isdigit()]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < 10:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers


class CitationStream:
    """Rewrites a model's answer as it arrives; see the module docstring.

    `feed` takes the next piece of the reply and returns the text that is safe to show
    now; `finish` returns the rest. Text that might still become a marker ("[1" ...)
    and trailing whitespace are held back until the next piece settles them, so a
    dropped marker takes the space before it along ("claim [7]." becomes "claim.").
    """

    def __init__(self, passage_count: int) -> None:
        self.passage_count = passage_count
        self.cited: list[int] = []  # passage positions (0-based), in order of first use
        self.no_answer = False
        self.dropped = 0
        self._emitted: list[str] = []
        self._head = ""  # the reply's opening, until it can't be NO_ANSWER or a <think> block
        self._gating = True
        self._pending = ""  # text that may be the start of a marker
        self._space = ""  # whitespace after the last shown character
        self._started = False

    @property
    def text(self) -> str:
        return "".join(self._emitted)

    def feed(self, piece: str) -> str:
        if self._gating:
            self._head += piece
            if self._undecided_head():
                return ""
            self._gating = False
            piece, self._head = self._head, ""
        return self._process(self._pending + piece, final=False)

    def finish(self) -> str:
        if self._gating:
            self._gating = False
            head = self._strip_thinking(self._head)
            if head is not None and head.strip().startswith(NO_ANSWER):
                self.no_answer = True
                return ""
            shown = self._process(head or "", final=True)
        else:
            shown = self._process(self._pending, final=True)
        self._space = ""
        return shown

    @staticmethod
    def _strip_thinking(head: str) -> str | None:
        """`head` without a leading <think>…</think> block; None while the block is open."""
        stripped = head.lstrip()
        if not stripped.startswith(_THINK_OPEN):
            return head
        end = stripped.find(_THINK_CLOSE)
        return None if end < 0 else stripped[end + len(_THINK_CLOSE) :]

    def _undecided_head(self) -> bool:
        """Whether the reply's opening may still be a <think> block or NO_ANSWER."""
        head = self._head.lstrip()
        if head.startswith(_THINK_OPEN):
            rest = self._strip_thinking(head)
            if rest is None:
                return True
            head = self._head = rest.lstrip()
        elif _THINK_OPEN.startswith(head):
            return True
        return NO_ANSWER.startswith(head) or head.startswith(NO_ANSWER)

    def _renumber(self, group: str) -> str:
        shown = set()
        for number in _passage_numbers(group):
            if not 1 <= number <= self.passage_count:
                self.dropped += 1
                continue
            if number - 1 not in self.cited:
                self.cited.append(number - 1)
            shown.add(self.cited.index(number - 1) + 1)
        return "".join(f"[{n}]" for n in sorted(shown))

    def _show(self, out: list[str], text: str) -> None:
        if self._started:
            out.append(self._space)
        self._space = ""
        self._started = True
        out.append(text)

    def _process(self, text: str, *, final: bool) -> str:
        out: list[str] = []
        self._pending = ""
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "[":
                match = _MARKER.match(text, i)
                if match:
                    replacement = self._renumber(match.group(1))
                    if replacement:
                        self._show(out, replacement)
                    else:
                        self._space = ""
                    i = match.end()
                    continue
                rest = text[i:]
                if (
                    not final
                    and len(rest) < _MAX_MARKER_CHARS
                    and _MARKER_PREFIX.match(rest.translate(_DIGITS))
                ):
                    self._pending = rest
                    break
            if ch.isspace():
                self._space += ch
            else:
                self._show(out, ch)
            i += 1
        shown = "".join(out)
        self._emitted.append(shown)
        return shown


def format_passages(passages: Sequence[RetrievedPassage]) -> str:
    blocks = []
    for number, passage in enumerate(passages, 1):
        language = LANGUAGE_NAMES.get(passage.language, passage.language)
        blocks.append(
            f"[{number}] {passage.title} ({language}; {passage.source})\n{passage.text.strip()}"
        )
    return "\n\n".join(blocks)


def answer_prompt(
    question: str, language: str, passages: Sequence[RetrievedPassage]
) -> tuple[str, str]:
    """The system and user messages that ask for a cited answer."""
    return load_prompt("answer.system"), fill_prompt(
        "answer.user",
        passages=format_passages(passages),
        question=question,
        language=LANGUAGE_NAMES.get(language, "the language of the question"),
    )


def claim_highlights(
    answer: str, number: int, passage: RetrievedPassage, language: str
) -> list[tuple[int, int]]:
    """Spans of the passage's sentences that best match the claims citing [number].

    A claim in another language than the passage matches nothing, and gets no highlight.
    """
    marker = f"[{number}]"
    claim_analyzer, passage_analyzer = analyzer_for(language), analyzer_for(passage.language)
    sentences = [
        (span, set(passage_analyzer.terms(passage.text[span.start : span.end])))
        for span in split_sentences(passage.text)
    ]
    spans: set[tuple[int, int]] = set()
    for claim in split_sentences(answer):
        claim_text = answer[claim.start : claim.end]
        if marker not in claim_text:
            continue
        terms = set(claim_analyzer.terms(claim_text))
        best, shared = None, _MIN_SHARED_TERMS - 1
        for span, sentence_terms in sentences:
            overlap = len(terms & sentence_terms)
            if overlap > shared:
                best, shared = span, overlap
        if best is not None:
            spans.add((best.start, best.end))
    return sorted(spans)


class CitedGenerator:
    """Asks the model for a cited answer and validates it; falls back when it must."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def stream(
        self,
        question: str,
        language: str,
        passages: Sequence[RetrievedPassage],
        fallback: Answer,
    ) -> Iterator[AnswerEvent]:
        """AnswerDelta pieces as the model writes, then the validated Answer."""
        system, user = answer_prompt(question, language, passages)
        citations = CitationStream(len(passages))
        try:
            for piece in self.model.stream(system, user):
                shown = citations.feed(piece)
                if shown:
                    yield AnswerDelta(text=shown)
        except ModelCallError as exc:
            yield with_notice(fallback, failure_notice(exc.reason))
            return
        tail = citations.finish()
        if tail:
            yield AnswerDelta(text=tail)
        yield self._answer(citations, question, language, passages, fallback)

    def generate(
        self,
        question: str,
        language: str,
        passages: Sequence[RetrievedPassage],
        fallback: Answer,
    ) -> Answer:
        """The validated answer, from one non-streaming request."""
        system, user = answer_prompt(question, language, passages)
        try:
            reply = self.model.complete(system, user)
        except ModelCallError as exc:
            return with_notice(fallback, failure_notice(exc.reason))
        citations = CitationStream(len(passages))
        citations.feed(reply)
        citations.finish()
        return self._answer(citations, question, language, passages, fallback)

    def _answer(
        self,
        citations: CitationStream,
        question: str,
        language: str,
        passages: Sequence[RetrievedPassage],
        fallback: Answer,
    ) -> Answer:
        if citations.no_answer:
            return abstention(question, language, fallback.notices).model_copy(
                update={"mode": "generated"}
            )
        text = citations.text
        if not text.strip():
            return with_notice(fallback, failure_notice("empty reply"))
        if not citations.cited:
            return with_notice(
                fallback,
                "The language model's answer cited no passage; this is the extractive "
                "answer instead.",
            )
        cited = [
            Citation.of(
                n, passages[position], claim_highlights(text, n, passages[position], language)
            )
            for n, position in enumerate(citations.cited, 1)
        ]
        return Answer(
            question=question,
            answer=text,
            abstained=False,
            language=language,
            citations=cited,
            mode="generated",
            notices=list(fallback.notices),
        )


def failure_notice(reason: str) -> str:
    return f"The language model failed ({reason}); this is the extractive answer instead."


def with_notice(answer: Answer, notice: str) -> Answer:
    return answer.model_copy(update={"notices": [*answer.notices, notice]})
