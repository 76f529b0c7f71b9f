"""Greetings, thanks, stray commands and emoji told apart from questions
(rag/text/small_talk.py)."""

from __future__ import annotations

import pytest

from bot.telegram import formatting as fmt
from rag.models import SmallTalk
from rag.text.small_talk import small_talk, small_talk_phrases, without_opening


def test_the_phrase_list_loads_and_every_reply_exists_in_three_languages() -> None:
    phrases = small_talk_phrases()  # raises on a malformed line or a phrase listed twice
    kinds_and_languages = {(meaning.kind, meaning.language) for meaning in phrases.values()}
    assert kinds_and_languages == {
        (kind, language)
        for kind in ("greeting", "thanks", "command")
        for language in ("en", "fr", "ar")
    }
    for kind in ("greeting", "thanks", "command", "emoji"):
        replies = {fmt.plain_text(f"{kind}_reply", language) for language in ("en", "fr", "ar")}
        assert len(replies) == 3 and all("/help" in reply for reply in replies)


@pytest.mark.parametrize(
    ("message", "kind", "language"),
    [
        ("hello", "greeting", "en"),
        ("Hi there!", "greeting", "en"),
        ("GOOD MORNING", "greeting", "en"),
        ("salut", "greeting", "fr"),
        ("Bonjour !", "greeting", "fr"),
        ("Bonjour à tous", "greeting", "fr"),
        ("مرحبا", "greeting", "ar"),
        ("مرحبًا", "greeting", "ar"),  # with tanween
        ("أهلاً وسهلاً", "greeting", "ar"),
        ("السلام عليكم", "greeting", "ar"),
        ("thanks", "thanks", "en"),
        ("clear", "command", "en"),
        ("Help!", "command", "en"),
        ("quitter", "command", "fr"),
        ("مسح", "command", "ar"),
        ("Thank you so much 🙏", "thanks", "en"),
        ("merci !", "thanks", "fr"),
        ("Merci beaucoup", "thanks", "fr"),
        ("D’accord, merci.", "thanks", "fr"),
        ("شكرا", "thanks", "ar"),
        ("شكراً جزيلاً", "thanks", "ar"),
        ("👍", "emoji", None),
        ("🙏", "emoji", None),
        ("👍🏽 ❤️", "emoji", None),
    ],
)
def test_small_talk_is_recognised(message: str, kind: str, language: str | None) -> None:
    assert small_talk(message) == SmallTalk(kind, language)


@pytest.mark.parametrize(
    "message",
    [
        "hello, who wants to buy TikTok?",
        "Who wants to buy TikTok?",
        "merci, et pour Amazon ?",
        "Bonjour, Microsoft veut-il acquérir TikTok ?",
        "مرحبا، لماذا تراجعت أمازون عن حظر تيك توك؟",
        "شكرا، وماذا عن أمازون؟",
        "TikTok",
        "hellooo",  # not a listed phrase: asked, not guessed at
        "hit",
        "2020",
        "   ",
    ],
)
def test_anything_else_is_not_small_talk(message: str) -> None:
    assert small_talk(message) is None


@pytest.mark.parametrize(
    ("message", "question"),
    [
        ("Hello, who wants to buy TikTok?", "who wants to buy TikTok?"),
        ("hi there who wants to buy TikTok?", "who wants to buy TikTok?"),
        ("Hello 👋 «TikTok» ?", "«TikTok» ?"),
        ("Bonjour, Microsoft veut-il acquérir TikTok ?", "Microsoft veut-il acquérir TikTok ?"),
        ("Merci ! Et pour Amazon ?", "Et pour Amazon ?"),
        ("مرحبًا، من يريد شراء تيك توك؟", "من يريد شراء تيك توك؟"),
        ("شكرا، وماذا عن أمازون؟", "وماذا عن أمازون؟"),
        ("السلام عليكم ورحمة الله، لماذا تراجعت أمازون؟", "لماذا تراجعت أمازون؟"),
        # Thanks followed by a space alone open a request: "merci de me dire".
        ("merci de me dire qui veut acheter TikTok", "merci de me dire qui veut acheter TikTok"),
        ("Who wants to buy TikTok?", "Who wants to buy TikTok?"),
        ("hello!!!", "hello!!!"),  # nothing left to ask: unchanged
        ("hitchhiking in Morocco", "hitchhiking in Morocco"),
    ],
)
def test_an_opening_greeting_or_thanks_is_set_aside(message: str, question: str) -> None:
    assert without_opening(message) == question
