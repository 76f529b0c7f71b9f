"""A chat's memory, and how a short follow-up is read with the question before it."""

from __future__ import annotations

import pytest

from rag.answering.follow_up import Reading, read_question
from rag.engine import Engine
from rag.models import Conversation, Turn


def test_keeps_the_last_turns(seeded_engine: Engine) -> None:
    conversation = Conversation(max_turns=2)
    for question in ["Who wants to buy TikTok?", "Why did Amazon ban TikTok?", "And Wells Fargo?"]:
        _ = seeded_engine.reply(question, conversation=conversation).answer
    assert [t.question for t in conversation.turns] == [
        "Why did Amazon ban TikTok?",
        "And Wells Fargo?",
    ]
    conversation.reset()
    assert len(conversation) == 0


def test_traced_answer_returns_the_ranking(seeded_engine: Engine) -> None:
    reply = seeded_engine.reply("Why did Wells Fargo ban TikTok?", top_k=4)
    answer, passages = reply.answer, reply.passages
    assert len(passages) == 4
    assert passages[0].score >= passages[-1].score
    assert {c.passage_id for c in answer.citations} <= {p.passage_id for p in passages}


# -- reading a follow-up without a model ----------------------------------------------------

MICROSOFT = {
    "en": "Did Microsoft want to buy TikTok?",
    "fr": "Microsoft veut-il acheter TikTok ?",
    "ar": "هل تريد مايكروسوفت شراء تيك توك؟",
}


@pytest.mark.parametrize(
    ("language", "follow_up", "focus"),
    [
        ("en", "and Amazon?", "Amazon"),
        ("en", "what about Amazon?", "Amazon"),
        ("en", "And what about Amazon?", "Amazon"),
        ("en", "How about Wells Fargo?", "Wells Fargo"),
        ("en", "Amazon?", "Amazon"),
        ("fr", "et pour Amazon ?", "Amazon"),
        ("fr", "Et Amazon ?", "Amazon"),
        ("fr", "quant à Amazon ?", "Amazon"),
        ("fr", "Et qu’en est-il d’Amazon ?", "d’Amazon"),
        ("ar", "وماذا عن أمازون؟", "أمازون"),
        ("ar", "و أمازون؟", "أمازون"),
        ("ar", "ماذا بشأن أمازون؟", "أمازون"),
        ("ar", "وأمازون؟", "وأمازون"),
    ],
)
def test_a_short_follow_up_is_read_with_the_question_before(
    language: str, follow_up: str, focus: str
) -> None:
    previous = Turn(MICROSOFT[language], "…")
    reading = read_question(follow_up, language, previous)
    assert reading.follow_up is not None and reading.alone is None
    assert reading.follow_up.previous == MICROSOFT[language]
    assert reading.follow_up.focus == focus
    assert reading.follow_up.search_text == f"{MICROSOFT[language]} {focus}"


@pytest.mark.parametrize(
    ("language", "follow_up", "searched"),
    [
        ("en", "and when?", "when"),
        ("en", "Why?", "Why"),
        ("fr", "et quand ?", "quand"),
        ("fr", "Pourquoi ?", "Pourquoi"),
        ("ar", "ومتى؟", "متى"),
        ("ar", "لماذا؟", "لماذا"),
    ],
)
def test_a_follow_up_that_only_asks_searches_the_question_before(
    language: str, follow_up: str, searched: str
) -> None:
    reading = read_question(follow_up, language, Turn(MICROSOFT[language], "…"))
    assert reading.follow_up is not None and reading.follow_up.focus == ""
    assert reading.follow_up.search_text == f"{MICROSOFT[language]} {searched}"


@pytest.mark.parametrize(
    ("language", "follow_up"), [("en", "and when?"), ("fr", "et quand ?"), ("ar", "ومتى؟")]
)
def test_the_next_follow_up_keeps_the_first_question_and_what_was_asked_about(
    language: str, follow_up: str
) -> None:
    earlier = Turn("…", "…", read_with=MICROSOFT[language], focus="Amazon")
    reading = read_question(follow_up, language, earlier)
    assert reading.follow_up is not None
    assert reading.follow_up.previous == MICROSOFT[language]
    assert reading.follow_up.focus == "Amazon"
    assert reading.follow_up.search_text.startswith(f"{MICROSOFT[language]} Amazon ")
    # A follow-up naming something new replaces what the one before asked about.
    wells_fargo = read_question("and Wells Fargo?", language, earlier).follow_up
    assert wells_fargo is not None and wells_fargo.focus == "Wells Fargo"
    assert wells_fargo.search_text == f"{MICROSOFT[language]} Wells Fargo"


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "Who wants to buy TikTok?"),
        ("en", "TikTok"),  # no question mark: a search, not a follow-up
        ("en", "hello"),
        ("en", "👍"),
        ("en", "Which bank asked its employees to remove TikTok?"),
        ("fr", "merci !"),
        ("fr", "Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?"),
        ("fr", "Qui veut racheter TikTok ?"),
        ("ar", "كم عدد مستخدمي تيك توك في الولايات المتحدة؟"),
        ("ar", "لماذا تراجعت أمازون عن حظر تيك توك؟"),
        ("ar", "شكرا"),
    ],
)
def test_a_question_that_stands_alone_is_read_on_its_own(language: str, question: str) -> None:
    assert read_question(question, language, Turn(MICROSOFT[language], "…")) == Reading()
    assert read_question(question, language, None) == Reading()


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "and what about Amazon?"),
        ("en", "and when?"),
        ("fr", "et pour Amazon ?"),
        ("fr", "pourquoi ?"),
        ("ar", "وماذا عن أمازون؟"),
        ("ar", "ومتى؟"),
    ],
)
def test_a_follow_up_with_no_question_before_is_read_on_its_own(
    language: str, question: str
) -> None:
    assert read_question(question, language, None) == Reading(alone="no_previous")


def test_a_bare_name_with_no_question_before_is_a_question_like_any_other() -> None:
    assert read_question("Amazon?", "en", None) == Reading()


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "And did Microsoft confirm the purchase of TikTok in all of Europe?"),
        ("fr", "Et Microsoft a-t-il confirmé l’achat de TikTok dans toute l’Europe ?"),
        ("ar", "وماذا عن تأكيد مايكروسوفت شراء تيك توك في كل دول أوروبا هذا العام؟"),
    ],
)
def test_a_long_question_that_opens_like_a_follow_up_is_read_on_its_own(
    language: str, question: str
) -> None:
    reading = read_question(question, language, Turn(MICROSOFT[language], "…"))
    assert reading == Reading(alone="too_long")


def test_a_follow_up_is_remembered_with_the_question_it_was_read_with(
    seeded_engine: Engine,
) -> None:
    conversation = Conversation()
    _ = seeded_engine.reply(
        "Why did Amazon ban TikTok on employee phones?", conversation=conversation
    ).answer
    _ = seeded_engine.reply("and Wells Fargo?", conversation=conversation).answer
    _ = seeded_engine.reply("and why?", conversation=conversation).answer
    last = conversation.last
    assert last is not None and last.question == "and why?"
    assert last.read_with == "Why did Amazon ban TikTok on employee phones?"
    assert last.focus == "Wells Fargo"
    assert last.standalone == "Why did Amazon ban TikTok on employee phones?"
