"""Greetings, thanks and emoji: messages that are not questions about the articles.

The phrases live in `prompts/telegram/small_talk.txt`, where they can be maintained without
touching Python. Detection is deliberately strict: a message is small talk only when it is
one listed phrase (or has no words at all), so that "hello, who wants to buy TikTok?" is
still answered.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from prompts import load_prompt
from rag.models import SmallTalk
from rag.text.analysis import normalize

PHRASES_FILE = "telegram/small_talk"
LISTED_KINDS = ("greeting", "thanks", "command")  # and "emoji": no letters or digits
MAX_OPENING_WORDS = 8  # the longest phrase, with room for words split by Arabic diacritics
_NOT_A_WORD = re.compile(r"[\W_]+")
_WORD = re.compile(r"[^\W_]+")
# Between an opening greeting and the question: spaces, punctuation other than opening
# quotes and brackets, and emoji with their modifiers.
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Po", "Pd", "So", "Sk", "Mn", "Cf"})


def small_talk(message: str) -> SmallTalk | None:
    """What kind of small talk `message` is, or None for anything else (a question)."""
    if not message.strip():
        return None
    if not any(character.isalnum() for character in message):
        return SmallTalk("emoji", None)
    return small_talk_phrases().get(folded(message))


def without_opening(question: str) -> str:
    """The question without the greeting or thanks it opens with: "Hello, who wants to buy
    TikTok?" is asked as "who wants to buy TikTok?". Thanks are taken off only when
    punctuation or an emoji follows them ("Merci ! Et Amazon ?"), as "merci de me dire…" is
    a request. Unchanged when nothing would be left to ask."""
    phrases = small_talk_phrases()
    for match in reversed(list(_WORD.finditer(question))[:MAX_OPENING_WORDS]):
        meaning = phrases.get(folded(question[: match.end()]))
        if meaning is None:
            continue
        rest = question[match.end() :]
        separator = 0
        while separator < len(rest) and (
            rest[separator].isspace()
            or unicodedata.category(rest[separator]) in _SEPARATOR_CATEGORIES
        ):
            separator += 1
        if not any(character.isalnum() for character in rest):
            return question
        if meaning.kind == "thanks" and not rest[:separator].strip():
            return question
        return rest[separator:]
    return question


def folded(text: str) -> str:
    """`text` for comparing with the phrases: case, accents and Arabic spelling variants
    folded, anything but letters and digits (punctuation, emoji) made one space."""
    return _NOT_A_WORD.sub(" ", normalize(text)).strip()


@cache
def small_talk_phrases() -> dict[str, SmallTalk]:
    """The phrases of `prompts/telegram/small_talk.txt`, folded, and what each one is.

    Raises ValueError for a malformed line, an unknown kind or a phrase listed twice.
    """
    phrases: dict[str, SmallTalk] = {}
    for number, line in enumerate(load_prompt(PHRASES_FILE).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        head, separator, listed = line.partition(":")
        words = head.split()
        if not separator or len(words) != 2 or words[0] not in LISTED_KINDS:
            raise ValueError(
                f"prompts/{PHRASES_FILE}.txt, line {number}: expected "
                f"`kind language: phrase, phrase, ...`, the kind {' or '.join(LISTED_KINDS)}"
            )
        meaning = SmallTalk(words[0], words[1])
        for phrase in listed.split(","):
            key = folded(phrase)
            if not key:
                continue
            if key in phrases and phrases[key] != meaning:
                raise ValueError(
                    f"prompts/{PHRASES_FILE}.txt, line {number}: {phrase.strip()!r} is "
                    f"listed already, as {phrases[key].kind} in {phrases[key].language}"
                )
            phrases[key] = meaning
    return phrases
