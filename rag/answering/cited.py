"""Generated answers that cite their passages, validated as they stream.

The model gets the numbered passages and is asked to cite [n] after each claim. Its
text then goes through `CitationStream`, piece by piece: markers to passages that
were not given are dropped, the others renumbered in order of first use, so what a
front end shows while the answer streams is already the final text. An answer left
without a valid citation falls back to the extractive one, with a notice; a sentence
whose only citations were dropped stays (it was shown already), and a notice says so.

`AnswerLimit` then holds the answer to NEWSBOT_LLM_MAX_ANSWER_CHARS: past it the model's
reply is closed and the answer cut at a sentence, again without taking back what was shown.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence

from prompts import fill_prompt, load_prompt
from rag.answering.extractive import abstention
from rag.backends.llm import ChatModel, ModelCallError
from rag.models import LANGUAGE_NAMES, Answer, AnswerDelta, AnswerEvent, Citation, RetrievedPassage
from rag.text.analysis import analyzer_for
from rag.text.chunking import split_sentences

NO_ANSWER = "NO_ANSWER"
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_NUMBER = r"[0-9٠-٩۰-۹]+"
_SEPARATOR = r"\s*(?:[,،;]|-|–|and|et|و)\s*"
_MARKER = re.compile(rf"\[\s*({_NUMBER}(?:{_SEPARATOR}{_NUMBER})*)\s*\]")
_MARKER_PREFIX = re.compile(r"\[[\s0-9,،;\-–andetو]*$")  # after _DIGITS
_MAX_MARKER_CHARS = 40
_MIN_SHARED_TERMS = 2
_SENTENCE_STOPS = frozenset(".!?؟。…")
_CLOSERS = frozenset("\"'”’»)")
# The end of a sentence in the shown text: its stop, closing quotes and the markers after
# them, before a space; or a line break.
_SENTENCE_END = re.compile(r"[.!?؟。…]+[\"'”’»)]*+(?:\s*\[[0-9]+\])*+(?=\s)|(?=\n)")
_SHOWN_NUMBER = re.compile(r"\[([0-9]+)\]")
# The reply may hold more than the answer (a <think> block, dropped markers); past this
# many times the answer's limit, it is closed whatever it holds.
RAW_REPLY_FACTOR = 8


def _passage_numbers(group: str) -> list[int]:
    """The passage numbers of a marker's inside: "2", "1, 3", "1-3", "١،٢"."""
    numbers: list[int] = []
    text = group.translate(_DIGITS)
    for part in re.split(r"\s*(?:[,،;]|and|et|و)\s*", text):
        # No passage has a nine-digit number; int() would refuse thousands of digits.
        bounds = [
            int(n) if len(n) < 10 else 10**9
            for n in re.split(r"\s*[-–]\s*", part.strip())
            if n.isdigit()
        ]
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

    `uncited` has one entry per sentence all of whose citations were dropped: where in
    `text` its first dropped marker was. Markers after a sentence's stop ("claim. [2]")
    count as its own; a sentence ends at its stop and the space after it, or a line break.
    """

    def __init__(self, passage_count: int) -> None:
        self.passage_count = passage_count
        self.cited: list[int] = []  # passage positions (0-based), in order of first use
        self.no_answer = False
        self.dropped = 0
        self.uncited: list[int] = []
        self._length = 0  # of `text`
        self._sentence_cited = False
        self._sentence_dropped: int | None = None  # where its first dropped marker was
        self._stopped = False  # after a sentence's stop (and closing quotes)
        self._between = False  # ... and a space: the next word starts the next sentence
        self._emitted: list[str] = []
        self._head = ""  # the reply's opening, until it can't be NO_ANSWER or a <think> block
        self._gating = True
        self._pending = ""  # text that may be the start of a marker
        self._space = ""  # whitespace after the last shown character
        self._started = False
        self._unclosed = False  # a dropped marker sat inside a bracket left open

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
        self._end_sentence()
        return shown

    @staticmethod
    def _strip_thinking(head: str) -> str | None:
        """`head` without its leading <think>…</think> blocks; None while one is open."""
        while (stripped := head.lstrip()).startswith(_THINK_OPEN):
            end = stripped.find(_THINK_CLOSE)
            if end < 0:
                return None
            head = stripped[end + len(_THINK_CLOSE) :]
        return head

    def _undecided_head(self) -> bool:
        """Whether the reply's opening may still be a <think> block or NO_ANSWER."""
        head = self._head.lstrip()
        while head.startswith(_THINK_OPEN):
            rest = self._strip_thinking(head)
            if rest is None:
                return True
            head = self._head = rest.lstrip()
        if _THINK_OPEN.startswith(head):
            return True
        return NO_ANSWER.startswith(head) or head.startswith(NO_ANSWER)

    def _renumber(self, group: str) -> str:
        shown = set()
        for number in _passage_numbers(group):
            if not 1 <= number <= self.passage_count:
                self.dropped += 1
                if self._sentence_dropped is None:
                    self._sentence_dropped = self._length
                continue
            self._sentence_cited = True
            if number - 1 not in self.cited:
                self.cited.append(number - 1)
            shown.add(self.cited.index(number - 1) + 1)
        return "".join(f"[{n}]" for n in sorted(shown))

    def _show(self, out: list[str], text: str) -> None:
        if self._started:
            out.append(self._space)
            self._length += len(self._space)
        self._space = ""
        self._started = True
        out.append(text)
        self._length += len(text)

    def _end_sentence(self) -> None:
        if self._sentence_dropped is not None and not self._sentence_cited:
            self.uncited.append(self._sentence_dropped)
        self._sentence_cited, self._sentence_dropped = False, None
        self._stopped = self._between = False

    def _follow_sentence(self, ch: str) -> None:
        """Keep track of where sentences end, for `uncited`, with the next character shown."""
        if ch.isspace():
            self._stopped |= ch == "\n"
            self._between |= self._stopped
            return
        if self._between:
            self._end_sentence()
        if ch in _SENTENCE_STOPS:
            self._stopped = True
        elif ch not in _CLOSERS:
            self._stopped = False

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
                        # "[9[7]]": with "[7]" gone, the "]" after it would close "[9".
                        tail = (self.text + "".join(out))[-_MAX_MARKER_CHARS:]
                        self._unclosed = bool(_MARKER_PREFIX.search(tail.translate(_DIGITS)))
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
            if self._unclosed and not ch.isspace():
                self._unclosed = False
                if ch == "]":
                    i += 1
                    continue
            self._follow_sentence(ch)
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
    """Spans of the passage's sentences that best match the claims citing [number], in the
    order of the claims.

    A claim in another language than the passage matches nothing, and gets no highlight.
    """
    marker = f"[{number}]"
    claim_analyzer, passage_analyzer = analyzer_for(language), analyzer_for(passage.language)
    sentences = [
        (span, set(passage_analyzer.terms(passage.text[span.start : span.end])))
        for span in split_sentences(passage.text)
    ]
    spans: dict[tuple[int, int], None] = {}  # in the order of the claims, once each
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
            spans[(best.start, best.end)] = None
    return list(spans)


class AnswerLimit:
    """Holds a generated answer to `max_chars` characters, cutting it at a sentence's end.

    `feed` takes the answer's next text (as CitationStream shows it) and returns what can
    be shown now; once the answer has run past `max_chars`, `full` says to stop the model.
    `finish` returns the rest, and `answer` is then the whole answer: what was shown, and
    after a cut the text up to the last sentence end within the limit (else the last word,
    with "…"). Near the limit, text is held back until its sentence ends, so that the cut
    never takes back what was shown and still falls between sentences.
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        # Before this, text is shown as it comes; after it, a sentence at a time.
        self.free = max_chars - min(max_chars // 5, 1000)
        self.answer = ""
        self.cut = False
        self._text = ""  # at most max_chars + 1 characters: the one after the limit tells
        self._shown = 0

    @property
    def full(self) -> bool:
        return len(self._text) > self.max_chars

    def feed(self, text: str) -> str:
        if self.full or not text:
            return ""
        self._text = (self._text + text)[: self.max_chars + 1]
        if self.full:
            return ""
        end = len(self._text)
        if end > self.free:
            # What was shown never ends with a space, so a cut after it takes none back.
            free_end = len(self._text[: self.free].rstrip())
            end = max(self._shown, free_end, *self._sentence_ends())
        return self._release(end)

    def finish(self) -> str:
        if not self.full:
            self.answer = self._text
            return self._release(len(self._text))
        self.cut = True
        ends = [end for end in self._sentence_ends() if self._shown <= end <= self.max_chars]
        if ends:
            answer = self._text[: ends[-1]]
        else:
            space = next(
                (i for i in range(self.max_chars, self._shown - 1, -1) if self._text[i].isspace()),
                None,
            )
            answer = self._text[: self.max_chars if space is None else space].rstrip()
            bracket = answer.rfind("[", self._shown)
            if space is None and bracket >= 0 and "]" not in answer[bracket:]:
                answer = answer[:bracket]  # cut inside a word, but not inside a marker
            answer = self._text[: self._shown] + answer[self._shown :] + "…"
        self.answer = answer
        rest = answer[self._shown :]
        self._shown = len(answer)
        return rest

    def _sentence_ends(self) -> list[int]:
        """Where sentences end in the last stretch before the limit."""
        return [match.end() for match in _SENTENCE_END.finditer(self._text, self.free)]

    def _release(self, end: int) -> str:
        shown, self._shown = self._text[self._shown : end], max(self._shown, end)
        return shown


class _Reply:
    """A model's reply on its way to an answer: citations checked, length held."""

    def __init__(self, passage_count: int, max_chars: int) -> None:
        self.citations = CitationStream(passage_count)
        self.limit = AnswerLimit(max_chars)
        self.max_reply_chars = RAW_REPLY_FACTOR * max_chars
        self.received = 0

    @property
    def overlong(self) -> bool:
        return self.received > self.max_reply_chars

    @property
    def enough(self) -> bool:
        """Whether the rest of the model's reply can only be dropped: stop it."""
        return self.limit.full or self.overlong

    def feed(self, piece: str) -> str:
        self.received += len(piece)
        return self.limit.feed(self.citations.feed(piece))

    def finish(self) -> str:
        shown = "" if self.limit.full else self.limit.feed(self.citations.finish())
        return shown + self.limit.finish()

    @property
    def text(self) -> str:
        return self.limit.answer

    @property
    def cited(self) -> list[int]:
        """Positions of the passages cited in `text`, in the order of their numbers."""
        if not self.limit.cut:
            return self.citations.cited
        # Numbered in order of first use: what a cut leaves is cited [1] to [n].
        numbers = [int(n) for n in _SHOWN_NUMBER.findall(self.text)]
        return self.citations.cited[: max(numbers, default=0)]

    @property
    def uncited(self) -> int:
        """Sentences of `text` whose only citations were dropped."""
        return sum(1 for at in self.citations.uncited if at <= len(self.text))


class CitedGenerator:
    """Asks the model for a cited answer and validates it; falls back when it must."""

    def __init__(self, model: ChatModel, *, max_chars: int) -> None:
        self.model = model
        self.max_chars = max_chars

    def stream(
        self,
        question: str,
        language: str,
        passages: Sequence[RetrievedPassage],
        fallback: Answer,
    ) -> Iterator[AnswerEvent]:
        """AnswerDelta pieces as the model writes, then the validated Answer."""
        system, user = answer_prompt(question, language, passages)
        reply = _Reply(len(passages), self.max_chars)
        try:
            # Leaving the loop early closes the model's stream, and its connection.
            with contextlib.closing(self.model.stream(system, user)) as pieces:
                for piece in pieces:
                    shown = reply.feed(piece)
                    if shown:
                        yield AnswerDelta(text=shown)
                    if reply.enough:
                        break
        except ModelCallError as exc:
            yield with_notice(fallback, failure_notice(exc))
            return
        tail = reply.finish()
        if tail:
            yield AnswerDelta(text=tail)
        yield self._answer(reply, question, language, passages, fallback)

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
            text = self.model.complete(system, user)
        except ModelCallError as exc:
            return with_notice(fallback, failure_notice(exc))
        reply = _Reply(len(passages), self.max_chars)
        for start in range(0, len(text), _PIECE_CHARS):
            reply.feed(text[start : start + _PIECE_CHARS])
            if reply.enough:
                break
        reply.finish()
        return self._answer(reply, question, language, passages, fallback)

    def _answer(
        self,
        reply: _Reply,
        question: str,
        language: str,
        passages: Sequence[RetrievedPassage],
        fallback: Answer,
    ) -> Answer:
        if reply.citations.no_answer:
            return abstention(question, language, fallback.notices).model_copy(
                update={"mode": "generated"}
            )
        text = reply.text
        if not text.strip():
            reason = (
                f"no answer in its first {reply.max_reply_chars:,} characters"
                if reply.overlong
                else "empty reply"
            )
            return with_notice(fallback, failure_notice(reason))
        if not reply.cited:
            return with_notice(
                fallback,
                "The language model's answer cited no passage; this is the extractive "
                "answer instead.",
            )
        cited = [
            Citation.of(
                n, passages[position], claim_highlights(text, n, passages[position], language)
            )
            for n, position in enumerate(reply.cited, 1)
        ]
        notices = list(fallback.notices)
        if reply.uncited:
            notices.append(uncited_notice(reply.uncited))
        if reply.limit.cut:
            notices.append(shortened_notice(self.max_chars))
        return Answer(
            question=question,
            answer=text,
            abstained=False,
            language=language,
            citations=cited,
            mode="generated",
            notices=notices,
        )


# A whole (non-streamed) reply goes through the checks in pieces of this size, so that a
# huge one is only read as far as the answer's limit.
_PIECE_CHARS = 1000


def failure_notice(failure: ModelCallError | str) -> str:
    """The notice for an answer that fell back because the model failed (or took too long)."""
    if isinstance(failure, ModelCallError):
        if failure.deadline is not None:
            return (
                f"The language model took longer than {failure.deadline:g} s; "
                "this is the extractive answer instead."
            )
        failure = failure.reason
    return f"The language model failed ({failure}); this is the extractive answer instead."


def uncited_notice(sentences: int) -> str:
    if sentences == 1:
        return (
            "1 sentence of the answer cited a passage that doesn't exist; its citation was "
            "removed, so no source backs it."
        )
    return (
        f"{sentences} sentences of the answer cited passages that don't exist; their "
        "citations were removed, so no source backs them."
    )


def shortened_notice(max_chars: int) -> str:
    return (
        f"The language model's answer was longer than {max_chars:,} characters; it was cut short."
    )


def with_notice(answer: Answer, notice: str) -> Answer:
    return answer.model_copy(update={"notices": [*answer.notices, notice]})
