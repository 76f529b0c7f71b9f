"""Sentence splitting and passage chunking that keep exact spans into the article."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at terminal punctuation (Latin or Arabic), swallowing closing
# quotes and brackets (French puts a space before »), when whitespace follows;
# and at every line break.
_SENTENCE_END_RE = re.compile(r"[.!?؟…]+(?:[»”\"'’)\]“]|[ \u00a0\u202f]»)*(?=\s)|\n")
# "J." in "Donald J. Trump", "U.S." and the like do not end a sentence.
_ABBREVIATION_RE = re.compile(
    r"(?:\b[A-Za-z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Inc|Co|Corp|Ltd|vs|No|M|Mme|Mlle|Dr|Pr|cf)|\.[A-Za-z])\.$"
)
# Where an over-long sentence may be cut: Arabic and Latin commas, semicolons, colons.
_SOFT_BREAK_RE = re.compile(r"[،,;؛:](?=\s)")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text`, whitespace trimmed, in order."""
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        end = match.end()
        if match.group() != "\n":
            before = text[max(0, match.start() - 6) : match.start() + 1]
            if match.group().startswith(".") and _ABBREVIATION_RE.search(before):
                continue
            following = text[end : end + 3].lstrip()
            if following[:1].islower() and following[:1].isascii():
                continue
        _append_sentence(spans, text, _trim(text, start, end))
        start = end
    _append_sentence(spans, text, _trim(text, start, len(text)))
    return spans


def _append_sentence(spans: list[Span], text: str, span: Span | None) -> None:
    if span is None:
        return
    # A stray closing quote or dash on its own belongs to the sentence before it.
    if spans and not any(ch.isalnum() for ch in text[span.start : span.end]):
        spans[-1] = Span(spans[-1].start, span.end)
        return
    spans.append(span)


def _cut_long(text: str, span: Span, limit: int) -> list[Span]:
    """Cut a sentence longer than `limit` at soft breaks, then at spaces."""
    pieces: list[Span] = []
    start = span.start
    while span.end - start > limit:
        window_end = start + limit
        cut = -1
        for match in _SOFT_BREAK_RE.finditer(text, start + limit // 3, window_end):
            cut = match.end()
        if cut < 0:
            space = text.rfind(" ", start + limit // 3, window_end)
            cut = space if space > start else window_end
        piece = _trim(text, start, cut)
        if piece:
            pieces.append(piece)
        start = cut
    tail = _trim(text, start, span.end)
    if tail:
        pieces.append(tail)
    return pieces


def chunk_spans(text: str, size: int, overlap: int) -> list[Span]:
    """Pack whole sentences into passages of about `size` characters.

    Each passage after the first starts with the trailing sentences of the one
    before it, up to `overlap` characters, so a fact cut at a boundary is still
    found whole.
    """
    sentences: list[Span] = []
    for sentence in split_sentences(text):
        if sentence.end - sentence.start > size:
            sentences.extend(_cut_long(text, sentence, size))
        else:
            sentences.append(sentence)
    passages: list[Span] = []
    first = 0
    while first < len(sentences):
        last = first
        while (
            last + 1 < len(sentences) and sentences[last + 1].end - sentences[first].start <= size
        ):
            last += 1
        passages.append(Span(sentences[first].start, sentences[last].end))
        if last + 1 >= len(sentences):
            break
        next_first = last + 1
        # Repeat no more than leaves room for the next sentence: a passage of repeated
        # sentences only would add nothing.
        while (
            next_first - 1 > first
            and sentences[last].end - sentences[next_first - 1].start <= overlap
            and sentences[last + 1].end - sentences[next_first - 1].start <= size
        ):
            next_first -= 1
        first = next_first
    return passages
