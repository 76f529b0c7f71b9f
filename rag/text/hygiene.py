"""What makes a sentence stand alone in an answer, and the answer-hygiene check of
`newsbot eval`.

A sentence stands alone when it is not a headline (an article's title, or a short line
without a final stop), not a fragment (it does not open with a closing quote or a
lowercase continuation, nor end on a colon), and its quotation marks are balanced. The
extractive answerer builds its sentences by these rules; the evaluation checks every
answer against them, extractive or generated, from its text alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from prompts import localized_table
from rag.text.analysis import LANGUAGES, normalize
from rag.text.language import detect_language
from rag.text.values import holds_value, values_in

OPENING_QUOTES = "«“„‹"
CLOSING_QUOTES = "»”›"
# A closing single quote opens no sentence either (the apostrophe looks the same).
_FRAGMENT_OPENERS = CLOSING_QUOTES + "’'"
_CLOSERS = CLOSING_QUOTES + "\"')]’"
_FINAL_STOP_RE = re.compile(r"[.!?؟…](?:[\s" + re.escape(_CLOSERS + OPENING_QUOTES) + r"]*)$")
HEADLINE_MAX_WORDS = 12
# A paragraph this short is a subheading even when it ends with a stop
# ("السيادة الرقمية محور الخلاف.", "رد فعل الصين والتحركات التقنية.").
SUBHEADING_MAX_WORDS = 5
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_MARKERS_RE = re.compile(r"(?:\s*\[\d+\])+")

# Words that point back to something said before: a sentence holding one early on leans
# on the sentence before it. Demonstratives anywhere in the first words; personal
# pronouns only as the sentence's subject (first word, or first after an opening phrase).
_DEMONSTRATIVES = {
    "en": {"this", "these", "those", "such"},
    "fr": {"ce", "cet", "cette", "ces", "cela", "ceci", "ça"},
    "ar": {"ذلك", "هذه", "هذا", "هؤلاء", "تلك", "وهذا", "وهذه", "لذلك", "بذلك", "وذلك"},
}
_SUBJECT_PRONOUNS = {
    "en": {"it", "they", "he", "she"},
    "fr": {"il", "ils", "elle", "elles"},
    "ar": {"وهو", "وهي", "هو", "هي"},
}
LEANING_WINDOW = 8


def quote_counts(text: str) -> tuple[int, int, int]:
    """(quotes left open, closing quotes with nothing to close) over «…» and “…”, and
    the number of straight double quotes.

    A “ at the very end after a full stop closes (some sources close with it).
    """
    open_quotes = unmatched = 0
    straight = 0
    stripped = text.rstrip()
    for index, char in enumerate(stripped):
        if char in OPENING_QUOTES:
            closing_at_end = (
                char == "“"
                and index == len(stripped) - 1
                and stripped[:index].rstrip().endswith((".", "!", "?", "؟", "…"))
            )
            if closing_at_end and open_quotes:
                open_quotes -= 1
            else:
                open_quotes += 1
        elif char in CLOSING_QUOTES:
            if open_quotes:
                open_quotes -= 1
            else:
                unmatched += 1
        elif char == '"':
            straight += 1
    return open_quotes, unmatched, straight


def quote_balance(text: str) -> tuple[int, int]:
    """(quotes left open, closing quotes with nothing to close); an odd straight quote
    counts as left open."""
    open_quotes, unmatched, straight = quote_counts(text)
    return open_quotes + straight % 2, unmatched


def quotes_balanced(text: str) -> bool:
    return quote_balance(text) == (0, 0)


def has_final_stop(text: str) -> bool:
    return bool(_FINAL_STOP_RE.search(text.rstrip()))


def opens_as_fragment(text: str) -> bool:
    """Whether the text opens with a closing quote, a lowercase continuation, an
    ellipsis or punctuation that continues a sentence."""
    stripped = text.lstrip()
    if not stripped:
        return False
    if stripped[0] in _FRAGMENT_OPENERS or stripped[0] in ",;:،؛…" or stripped.startswith(".."):
        return True
    first = stripped.lstrip('(-–—•*"«“„‹ ')
    return bool(first) and first[0].isalpha() and first[0].islower()


def ends_on_colon(text: str) -> bool:
    return text.rstrip().endswith((":", "："))


def is_fragment(text: str) -> bool:
    return opens_as_fragment(text) or ends_on_colon(text)


def word_count(text: str) -> int:
    return len(_WORD_RE.findall(text))


def matches_title(text: str, titles: Sequence[str]) -> bool:
    """Whether the text is an article's title (a title cut with "…" matches its start)."""
    key = " ".join(normalize(text).split()).rstrip(" .:")
    if not key:
        return False
    for title in titles:
        folded = " ".join(normalize(title).split()).rstrip(" .:")
        if not folded:
            continue
        if folded.endswith("…"):
            if key.startswith(folded[:-1].rstrip()):
                return True
        elif key == folded:
            return True
    return False


def is_headline(text: str, titles: Sequence[str] = ()) -> bool:
    """An article's title, or a short line without a final stop ("Microsoft will buy
    TikTok", "مايكروسوفت - تيك توك")."""
    if matches_title(text, titles):
        return True
    if has_final_stop(text) or ends_on_colon(text):
        return False  # a line ending on a colon introduces what follows: see is_fragment
    return word_count(text) <= HEADLINE_MAX_WORDS


def leans_on_previous(text: str, language: str) -> bool:
    """Whether the sentence opens by pointing back at the one before ("To the extent that
    such data…", "Parler à Fox News, il a déclaré…", "وعلاوة على ذلك…")."""
    words = [normalize(w) for w in _WORD_RE.findall(text)[:LEANING_WINDOW]]
    if not words:
        return False
    demonstratives = _DEMONSTRATIVES.get(language, set()) | _DEMONSTRATIVES["ar"]
    if any(word in demonstratives for word in words):
        return True
    pronouns = _SUBJECT_PRONOUNS.get(language, set())
    if words[0] in pronouns:
        return True
    head, comma, _ = text.partition(",")
    if comma and word_count(head) <= 5:
        after = _WORD_RE.findall(text[len(head) + 1 :])[:1]
        return bool(after) and normalize(after[0]) in pronouns
    return False


# -- an answer's sentences, as a reader sees them ---------------------------------------------


@cache
def _note_re() -> re.Pattern[str]:
    """The language notes of every language ("From the Arabic article “…”:")."""
    patterns = []
    for language in LANGUAGES:
        for template in localized_table("from_article", language).values():
            before, _, after = template.partition("${title}")
            patterns.append(re.escape(before) + r".+?" + re.escape(after))
    return re.compile(r"\s*(?:" + "|".join(patterns) + r")\s*")


@dataclass(frozen=True)
class AnswerSentence:
    """One cited sentence of an answer (its [n] markers removed), and whether a language
    note came before it in the answer."""

    text: str
    after_note: bool


def answer_sentences(answer: str) -> list[AnswerSentence]:
    """The sentences of an answer: the text up to each run of [n] markers that ends a
    sentence (a marker followed by a comma is inside a list), and any text after the last.
    Language notes are taken out of the sentence they introduce."""
    pieces: list[str] = []
    start = 0
    for match in _MARKERS_RE.finditer(answer):
        end = match.end()
        after = answer[end + 1 : end + 2]
        if answer[end : end + 1] in (".", "!", "?", "؟") and (not after or after.isspace()):
            end += 1  # "… 170 million [3]. Next sentence"
        following = answer[end : end + 1]
        if following and not following.isspace():
            continue
        pieces.append(answer[start : match.start()] + answer[match.end() : end])
        start = end
    pieces.append(answer[start:])
    sentences: list[AnswerSentence] = []
    noted = False
    note = _note_re()
    for piece in pieces:
        while (found := note.match(piece)) and found.end() > 0:
            noted = True
            piece = piece[found.end() :]
        piece = _MARKERS_RE.sub("", piece).strip()
        if piece:
            sentences.append(AnswerSentence(piece, noted))
    return sentences


@dataclass
class Hygiene:
    """What the answer-hygiene check found in one answer."""

    sentences: int = 0
    headlines: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)
    unbalanced_quotes: list[str] = field(default_factory=list)
    unannounced_languages: list[str] = field(default_factory=list)
    first_holds_value: bool = False


def check_answer(answer: str, language: str, titles: Sequence[str] = ()) -> Hygiene:
    """Check an answer's sentences: headlines, fragments, unbalanced quotes, sentences in
    another language than the question's with no note before them, and whether the first
    sentence holds a number or a date."""
    hygiene = Hygiene()
    sentences = answer_sentences(answer)
    hygiene.sentences = len(sentences)
    for sentence in sentences:
        if is_headline(sentence.text, titles):
            hygiene.headlines.append(sentence.text)
        if is_fragment(sentence.text):
            hygiene.fragments.append(sentence.text)
        if not quotes_balanced(sentence.text):
            hygiene.unbalanced_quotes.append(sentence.text)
        if not sentence.after_note and _other_language(sentence.text, language):
            hygiene.unannounced_languages.append(sentence.text)
    if sentences:
        first = sentences[0].text
        hygiene.first_holds_value = holds_value(first, "date") or holds_value(first, "number")
    return hygiene


def _other_language(text: str, language: str) -> bool:
    found = detect_language(text)
    return found != "und" and found != language and language in LANGUAGES


def is_value_keyword(keyword: str) -> bool:
    """Whether an expected keyword is a number or a date ("80 million", "15 septembre",
    "2016", "نصف مليار"), not a name that holds a digit ("M2")."""
    language = detect_language(keyword)
    found = values_in(keyword, language if language != "und" else "en")
    if not found:
        return False
    rest = list(keyword)
    for value in found:
        rest[value.start : value.end] = " " * (value.end - value.start)
    return not _WORD_RE.search("".join(rest))
