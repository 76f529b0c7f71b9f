"""A passage's sentences as an answer may quote them: each one standing alone.

`split_sentences` cuts at every full stop and line break; news text then leaves pieces
that do not stand alone: headlines, a quotation split over two sentences ("“Among other
measures, … States. To the extent … transferred », clarifies."), a sentence that
introduces a quote and ends on a colon. `passage_units` repairs them:

- headlines (the article's title, a short line without a final stop, a line of a few
  words) are left out, and nothing joins across them;
- a sentence that opens with a closing quote or a lowercase continuation, or that a
  quotation left open before it runs into, joins the sentence before it;
- a quotation followed only by a one-word attribution ("», clarifies.") loses the
  attribution and its quotation marks;
- a sentence ending on a colon ends on a full stop instead, or is left out when too
  short to say anything ("He said:");
- a unit whose quotation marks still do not balance is left out.

A unit keeps the exact spans of passage text it shows (more than one when it crosses a
line break), so citations can highlight them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.text.chunking import split_sentences
from rag.text.hygiene import (
    CLOSING_QUOTES,
    OPENING_QUOTES,
    SUBHEADING_MAX_WORDS,
    ends_on_colon,
    has_final_stop,
    is_headline,
    leans_on_previous,
    matches_title,
    opens_as_fragment,
    quote_balance,
    quote_counts,
    word_count,
)

MAX_UNIT_CHARS = 700
# A unit shorter than this is no answer on its own ("Yes.", a dateline).
MIN_ANSWER_CHARS = 20
# A sentence that only introduced a quote, once its colon is gone ("He said.").
MIN_INTRODUCTION_WORDS = 6
# "», clarifies." / "”, ajoute-t-il." : a closing quote, then one word and a stop.
_BARE_ATTRIBUTION_RE = re.compile(
    r"(?P<closer>[" + re.escape(CLOSING_QUOTES) + r"])\s*[,،]?\s*[^\W\d_][\w’'-]*\s*[.!]?\s*$"
)


@dataclass(frozen=True)
class Unit:
    """A sentence (or a few joined) as shown in an answer."""

    segments: tuple[tuple[int, int], ...]
    text: str
    leans: bool = False
    previous: int | None = None

    @property
    def start(self) -> int:
        return self.segments[0][0]

    @property
    def end(self) -> int:
        return self.segments[-1][1]


def _line_start(text: str, start: int) -> bool:
    return start == 0 or text[:start].rstrip(" \t\u00a0").endswith("\n")


def _line_end(text: str, end: int) -> bool:
    return end >= len(text) or text[end:].lstrip(" \t\u00a0")[:1] in ("\n", "")


_PARAGRAPH_BEFORE_RE = re.compile(r"\n[ \t\u00a0]*\n[ \t\u00a0]*$")
_PARAGRAPH_AFTER_RE = re.compile(r"[ \t\u00a0]*(?:\n[ \t\u00a0]*\n|$)")


def _is_headline_span(text: str, start: int, end: int, title: str) -> bool:
    """The title line; a line of its own with no final stop and few words; a paragraph of
    a few words ("السيادة الرقمية محور الخلاف.")."""
    sentence = text[start:end]
    if _line_start(text, start) and matches_title(sentence, [title]):
        return True
    # A subheading is a paragraph of its own, with text after it.
    paragraph = (
        (start == 0 or bool(_PARAGRAPH_BEFORE_RE.search(text, 0, start)))
        and bool(_PARAGRAPH_AFTER_RE.match(text, end))
        and bool(text[end:].strip())
    )
    quoted = sentence.lstrip()[:1] in OPENING_QUOTES + '"'
    if paragraph and not quoted and word_count(sentence) <= SUBHEADING_MAX_WORDS:
        return True
    return _line_start(text, start) and _line_end(text, end) and is_headline(sentence)


def _segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans that follow each other on one line become one segment."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and "\n" not in text[merged[-1][1] : start]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1] in " \t\u00a0,،;؛":
        end -= 1
    return start, end


def _repair(text: str, segments: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], str]:
    """Drop a bare attribution (with the quotation marks when the quotation is the whole
    unit) and a final colon; also the suffix ("." or "") to show after the segments."""
    last_start, last_end = segments[-1]
    attribution = _BARE_ATTRIBUTION_RE.search(text[last_start:last_end])
    if attribution:
        closer = last_start + attribution.start("closer")
        first_start, first_end = segments[0]
        if text[first_start] in OPENING_QUOTES:
            if len(segments) == 1:
                segments = [_trim(text, first_start + 1, closer)]
            else:
                segments = [
                    _trim(text, first_start + 1, first_end),
                    *segments[1:-1],
                    _trim(text, last_start, closer),
                ]
        else:
            segments = [*segments[:-1], (last_start, closer + 1)]
        return segments, "" if has_final_stop(_shown(text, segments)) else "."
    if ends_on_colon(_shown(text, segments)):
        stripped = text[last_start:last_end].rstrip()
        segments = [*segments[:-1], _trim(text, last_start, last_start + len(stripped) - 1)]
        if word_count(_shown(text, segments)) < MIN_INTRODUCTION_WORDS:
            return [], ""
        return segments, "."
    return segments, ""


def _shown(text: str, segments: list[tuple[int, int]]) -> str:
    return " ".join(text[s:e] for s, e in segments)


def _balanced(text: str, segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The segments with a stray opening quote at the start or closing quote at the end
    left out; [] when the quotes still do not balance."""
    if quote_balance(_shown(text, segments)) == (0, 0):
        return segments
    first_start, first_end = segments[0]
    if text[first_start] in OPENING_QUOTES + '"':
        trial = [_trim(text, first_start + 1, first_end), *segments[1:]]
        if trial[0][0] < trial[0][1] and quote_balance(_shown(text, trial)) == (0, 0):
            return trial
    last_start, last_end = segments[-1]
    stripped = text[last_start:last_end].rstrip()
    if stripped and stripped[-1] in CLOSING_QUOTES + '"':
        trial = [*segments[:-1], (last_start, last_start + len(stripped) - 1)]
        if quote_balance(_shown(text, trial)) == (0, 0):
            return trial
    stray = _stray_quote(text, segments)
    if stray is not None:
        trial = [_strip_spaces(text, s, e) for s, e in _without_char(segments, stray)]
        trial = [(s, e) for s, e in trial if e > s]
        if trial and quote_balance(_shown(text, trial)) == (0, 0):
            return trial
    return []


def _strip_spaces(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _wraps_into(text: str, line: tuple[int, int], following: tuple[int, int], title: str) -> bool:
    """Whether a sentence runs on from `line` to the next line (text wrapped at a fixed
    width): the line has no final stop, the next follows it with no blank line between,
    and it continues in lowercase or the line is longer than a subheading."""
    start, end = line
    sentence = text[start:end]
    if has_final_stop(sentence) or ends_on_colon(sentence):
        return False
    if _line_start(text, start) and matches_title(sentence, [title]):
        return False
    if text[end : following[0]].count("\n") != 1:
        return False
    following_text = text[following[0] : following[1]]
    first = following_text.lstrip('"«“„‹(')[:1]
    return (first.isalpha() and first.islower()) or word_count(sentence) > SUBHEADING_MAX_WORDS


def _closes_earlier_quote(before: str, sentence: str) -> bool:
    """Whether `sentence` closes a quotation that `before` left open."""
    open_before, _, straight_before = quote_counts(before)
    _, unmatched, straight = quote_counts(sentence)
    return (open_before > 0 and unmatched > 0) or (straight_before % 2 == 1 and straight % 2 == 1)


def _without_char(segments: list[tuple[int, int]], position: int) -> list[tuple[int, int]]:
    """The segments with the character at `position` left out."""
    result = []
    for start, end in segments:
        if start <= position < end:
            result += [(start, position), (position + 1, end)]
        else:
            result.append((start, end))
    return [(s, e) for s, e in result if e > s]


def _stray_quote(text: str, segments: list[tuple[int, int]]) -> int | None:
    """Where the one quotation mark is that keeps the segments from balancing."""
    opened: list[int] = []
    stray: list[int] = []
    for start, end in segments:
        for position in range(start, end):
            char = text[position]
            if char in OPENING_QUOTES:
                opened.append(position)
            elif char in CLOSING_QUOTES:
                if opened:
                    opened.pop()
                else:
                    stray.append(position)
    leftover = opened + stray
    return leftover[0] if len(leftover) == 1 else None


@lru_cache(maxsize=4096)
def passage_units(text: str, *, title: str, language: str) -> tuple[Unit, ...]:
    """The units of a passage's text, in order (kept: passages come back question after
    question)."""
    spans = [(span.start, span.end) for span in split_sentences(text)]
    wrapped = [_wraps_into(text, spans[i], spans[i + 1], title) for i in range(len(spans) - 1)]
    wrapped.append(False)
    groups: list[list[tuple[int, int]]] = []
    # Index of the group a new one follows (None after a headline: nothing leans across it).
    follows: list[int | None] = []
    after_break = True
    for i, (start, end) in enumerate(spans):
        sentence = text[start:end]
        continues = i > 0 and wrapped[i - 1]
        if continues and groups and not after_break:
            groups[-1].append((start, end))  # the rest of a line-wrapped sentence
            continue
        if not continues and not wrapped[i] and _is_headline_span(text, start, end, title):
            after_break = True
            continue
        if groups and not after_break:
            joins = opens_as_fragment(sentence) or _closes_earlier_quote(
                _shown(text, groups[-1]), sentence
            )
            if joins and end - groups[-1][0][0] <= MAX_UNIT_CHARS:
                groups[-1].append((start, end))
                continue
        if opens_as_fragment(sentence):
            after_break = True
            continue  # a continuation of something this passage does not hold
        follows.append(None if after_break or not groups else len(groups) - 1)
        groups.append([(start, end)])
        after_break = False

    units: list[Unit] = []
    index_of_group: dict[int, int] = {}
    for number, spans in enumerate(groups):
        segments, suffix = _repair(text, _segments(text, spans))
        if segments:
            segments = _balanced(text, segments)
        segments = [(s, e) for s, e in segments if e > s]
        if not segments:
            continue
        shown = _shown(text, segments)
        if not has_final_stop(shown) and not suffix:
            suffix = "."
        previous = follows[number]
        units.append(
            Unit(
                segments=tuple(segments),
                text=shown + suffix,
                leans=leans_on_previous(shown, language),
                previous=index_of_group.get(previous) if previous is not None else None,
            )
        )
        index_of_group[number] = len(units) - 1
    return tuple(units)


def answer_units(text: str, *, title: str, language: str) -> tuple[Unit, ...]:
    """The units of a passage that can stand as an answer: neither too short nor too long.

    These are the sentences embedded at ingest and weighed for every answer."""
    return tuple(
        unit
        for unit in passage_units(text, title=title, language=language)
        if MIN_ANSWER_CHARS <= len(unit.text) <= MAX_UNIT_CHARS
    )
