"""The Telegram bot end to end: python-telegram-bot over HTTP to the Bot API stand-in.

Each test builds the application with `build_application(config, engine)`, exactly as
`newsbot telegram` does, runs it (long polling) in a thread, plays the users' side through
the stand-in and reads what the bot sent. Waits block on the stand-in's condition variable,
with timeouts; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from standins import conftest_helpers
from standins.conftest_helpers import ApplicationThread
from standins.telegram_api import TelegramStandin, parse_html, utf16_length
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cli import cli
from bot.telegram import formatting as fmt
from bot.telegram.config import WEBHOOK_SECRET_BYTES, TelegramConfig, TelegramSettings
from bot.telegram.handlers import NewsbotHandlers, handlers_of
from bot.telegram.runtime import ALLOWED_UPDATES, build_application, serve
from rag.engine import Engine
from rag.errors import BackendError, ConfigError
from rag.reply import Replied, ReplyEvent
from rag.reply import Reply as EngineReply
from rag.settings import Settings
from tests.conftest import (
    ARABIC_SEED,
    ENGLISH_SEED,
    FAST_EMBEDDING,
    model_engine,
    needs_openai,
)
from tests.sample_escapes import ESCAPES, HOSTILE_CHUNKS
from tests.standins._server import Reply, Script
from tests.standins.openai_api import OpenAIStandIn

pytestmark = pytest.mark.slow

telegram_api = conftest_helpers.telegram_api
run_application = conftest_helpers.run_application

WAIT = 15.0
START_WAIT = 60.0  # `newsbot telegram` opening the engine, on a busy machine
USER = 4242
GROUP = -100777
EN = "What did Microsoft promise about data storage?"
EN_TWO_SOURCES = "How many TikTok users are there in the United States?"
# Cites two articles or more under the word-matching embedding the tests use.
TWO_ARTICLES = "TikTok"
FR = "Qu’a dit Mike Pompeo sur les éditeurs de logiciels chinois ?"
AR = "كم عدد مستخدمي تيك توك في الولايات المتحدة؟"

StartBot = Callable[..., ApplicationThread]
JSON = dict[str, Any]


@pytest.fixture
def start_bot(
    telegram_api: TelegramStandin,
    run_application: Callable[..., ApplicationThread],
    seeded_engine: Engine,
) -> StartBot:
    """start_bot(engine=None, **settings): the real bot on the stand-in, running (public,
    unless the settings give an allowlist)."""

    def start(engine: Any = None, **settings: Any) -> ApplicationThread:
        engine = engine or seeded_engine
        allowlists = ("telegram_allowed_users", "telegram_allowed_chats")
        settings.setdefault("telegram_public", not any(settings.get(n) for n in allowlists))
        config = TelegramConfig.from_settings(
            TelegramSettings(
                telegram_token=telegram_api.token,
                telegram_base_url=telegram_api.base_url,
                **settings,
            )
        )
        return run_application(build_application(config, engine), allowed_updates=ALLOWED_UPDATES)

    return start


@pytest.fixture
def engine_copy(seeded_engine: Engine, tmp_path: Path) -> Engine:
    """An engine over a private copy of the seeded index (free to damage or extend)."""
    data = tmp_path / "data-copy"
    shutil.copytree(seeded_engine.settings.data_dir, data)
    return Engine(Settings(data_dir=data, corpus_dir=seeded_engine.settings.corpus_dir))


def handlers(runner: ApplicationThread) -> NewsbotHandlers:
    return handlers_of(runner.application)


def expected_reply(engine: Engine, question: str, language: str) -> str:
    """The text Telegram shows for the engine's answer to `question`."""
    answer = engine.reply(question).answer
    return parse_html(fmt.format_answer(answer, fmt.answer_language(answer, language))).text


def entity_texts(message: JSON, kind: str = "bold") -> list[str]:
    encoded = message["text"].encode("utf-16-le")
    return [
        encoded[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.get("entities", [])
        if e["type"] == kind
    ]


def buttons(message: JSON) -> list[JSON]:
    return [b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


def first_request(api: TelegramStandin, method: str, chat_id: int) -> int:
    """Position in the request log of the first `method` request for `chat_id`."""
    for position, request in enumerate(api.requests_log):
        if request.method == method and str(request.params.get("chat_id")) == str(chat_id):
            return position
    raise AssertionError(f"no {method} request for chat {chat_id}")


# ------------------------------------------------------------------ greetings and commands


def test_start_and_help_greet_in_the_users_language(
    telegram_api: TelegramStandin, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    api = telegram_api
    with caplog.at_level(logging.WARNING, logger="newsbot.telegram"):
        start_bot()
    assert "anyone on Telegram can use this bot" in caplog.text  # the allowlists are empty
    cases = [("ar", "مرحبًا"), ("fr-CA", "Bonjour"), ("en", "Hello"), ("de", "Hello")]
    cases.append((None, "Hello"))
    for user, (code, _) in enumerate(cases, 1):
        command = "/start" if user % 2 else "/help"
        api.send_user_message(user, user, command, language_code=code, first_name="<Lina>")
    for user, (code, greeting) in enumerate(cases, 1):
        [reply] = api.wait_for_messages(user, 1, WAIT)
        assert reply["text"].startswith(f"{greeting} <Lina>"), code
        assert "5" in reply["text"] and f"@{api.bot_username}" in reply["text"]
        assert "/ask" in reply["text"] and "/sources" in reply["text"]
    assert "arabe, français et anglais" in api.sent_messages(2)[0]["text"]
    assert "العربية والفرنسية والإنجليزية" in api.sent_messages(1)[0]["text"]
    # The command menu, in each language.
    assert [c["command"] for c in api.commands()] == ["ask", "sources", "reset", "help"]
    assert api.commands(language_code="fr")[0]["description"].startswith("Poser une question")
    assert api.commands(language_code="ar")[0]["description"] == "اطرح سؤالًا عن المقالات"


def test_sources_lists_the_indexed_articles(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    start_bot()
    telegram_api.send_user_message(USER, USER, "/sources")
    [reply] = telegram_api.wait_for_messages(USER, 1, WAIT)
    lines = reply["text"].splitlines()
    assert lines[0] == "Indexed articles (5):"
    titles = [a.title for a in seeded_engine.articles()]
    assert len(lines) == 6 and all(title in reply["text"] for title in titles)
    assert "reply_markup" not in reply  # one page: no page buttons


@pytest.fixture(scope="module")
def big_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over 2,500 tiny articles (seconds to index with the hashing embedding)."""
    root = tmp_path_factory.mktemp("catalogue")
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(1, 2501):
        (corpus / f"{i:04d}.txt").write_text(
            f"Brief {i:04d}\n\nA short news brief, number {i}, about nothing much.\n",
            encoding="utf-8",
        )
    engine = Engine(
        Settings(data_dir=root / "data", corpus_dir=corpus, embedding_provider=FAST_EMBEDDING)
    )
    engine.ingest()
    return engine


def listing_lines(articles: list[Any], first: int, count: int, ui: str) -> list[str]:
    """The lines /sources shows for `count` articles from the `first`-th (from 1)."""
    return [
        f"{i}. {a.title} · {fmt.language_name(a.language, ui)}"
        for i, a in enumerate(articles[first - 1 : first - 1 + count], first)
    ]


def test_sources_over_thousands_of_articles_is_one_message_turning_its_pages_in_place(
    telegram_api: TelegramStandin, start_bot: StartBot, big_catalogue: Engine
) -> None:
    api = telegram_api
    runner = start_bot(big_catalogue, telegram_rate_limit=6)
    articles = big_catalogue.articles()
    assert len(articles) == 2500
    api.send_user_message(USER, USER, "/sources", language_code="fr")
    api.send_user_message(USER, USER, "/help", language_code="fr")  # handled after /sources
    listing, greeting = api.wait_for_messages(USER, 2, WAIT)
    assert greeting["text"].startswith("Bonjour")  # so the list took one message
    lines = listing["text"].splitlines()
    assert lines[0] == "Articles indexés (2500)\u202f:"
    assert lines[1:] == listing_lines(articles, 1, 20, "fr")
    assert [b["text"] for b in buttons(listing)] == ["Page 1 sur 125", "Suivante »"]

    def press(label: str) -> JSON:
        shown = api.get_message(USER, listing["message_id"]) or {}
        [data] = [b["callback_data"] for b in buttons(shown) if b["text"] == label]
        query = api.press_button(USER, USER, listing["message_id"], data, language_code="fr")
        return api.wait_for_callback_answer(query, WAIT)

    assert press("Suivante »")["text"] is None
    [page_2] = api.edits(USER)
    assert page_2["message_id"] == listing["message_id"]
    assert page_2["text"].splitlines()[1:] == listing_lines(articles, 21, 20, "fr")
    labels = [b["text"] for b in buttons(page_2)]
    assert labels == ["« Précédente", "Page 2 sur 125", "Suivante »"]
    assert press("Page 2 sur 125")["text"] is None  # the page shown: nothing to change
    assert len(api.edits(USER)) == 1
    press("« Précédente")
    assert api.edits(USER)[-1]["text"] == listing["text"]
    press("Suivante »")  # the 6th request of the minute
    assert len(api.edits(USER)) == 3

    # Page buttons count against the rate limit like anything else: a pop-up, no edit.
    refused = press("Suivante »")["text"]
    expected = fmt.plain_text("rate_limited", "fr", limit=6, seconds=0)
    prefix, suffix = expected.split("0", 1)
    assert refused.startswith(prefix) and refused.endswith(suffix)
    assert len(api.edits(USER)) == 3 and len(api.sent_messages(USER)) == 2
    assert runner.errors == [] and api.internal_errors == []


def test_page_buttons_with_bad_or_stale_data_get_a_pop_up(
    telegram_api: TelegramStandin, start_bot: StartBot, big_catalogue: Engine
) -> None:
    api = telegram_api
    runner = start_bot(big_catalogue)
    # Buttons no current /sources message has: a page past the end (the list was longer
    # when it was sent), malformed data, and data that is none of the bot's.
    data = ["src:126", "src:0", "src:-1", "src:abc", "src:", "src:1:2", "page:2", "src:125"]
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d)] for d in data])
    api.send_user_message(USER, USER, "/help", language_code="ar")
    api.wait_for_messages(USER, 1, WAIT)
    bot = runner.application.bot
    old = runner.run(bot.send_message(USER, "an old list", reply_markup=keyboard))

    def press(value: str) -> str | None:
        query = api.press_button(USER, USER, old.message_id, value, language_code="ar")
        text: str | None = api.wait_for_callback_answer(query, WAIT)["text"]
        return text

    for value in data[:6]:
        assert press(value) == fmt.plain_text("page_gone", "ar"), value
    assert press("page:2") == fmt.plain_text("unknown_button", "ar")
    assert api.edits(USER) == []
    assert press("src:125") is None  # the last page is there: the message shows it
    [last] = api.edits(USER)
    assert last["text"].splitlines()[1:] == listing_lines(big_catalogue.articles(), 2481, 20, "ar")
    assert [b["text"] for b in buttons(last)] == ["« السابقة", "الصفحة 125 من 125"]
    assert runner.errors == [] and api.internal_errors == []


# ------------------------------------------------------------------ answers and citations


def test_a_private_question_in_each_language_gets_a_cited_answer_with_buttons(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    start_bot()
    cases = [
        (1, EN, "en", "Sources", "English"),
        (2, FR, "fr", "Sources", "français"),
        (3, AR, "ar", "المصادر", "العربية"),
    ]
    for chat, question, code, _, _ in cases:
        api.send_user_message(chat, chat, question, language_code=code)
    for chat, question, code, heading, language in cases:
        [reply] = api.wait_for_messages(chat, 1, WAIT)
        answer = seeded_engine.reply(question).answer
        assert not answer.abstained and answer.citations
        assert reply["text"] == expected_reply(seeded_engine, question, code)
        assert reply["text"].startswith(answer.answer) and "[1]" in reply["text"]
        titles = list(dict.fromkeys(c.title for c in answer.citations))
        assert entity_texts(reply) == [heading, *titles]
        for title in titles:
            assert reply["text"].count(f"{title} · {language}") == 1
        for c in answer.citations:
            assert f"\n[{c.n}] {fmt.passage_label(c, code)}" in reply["text"]
        labels = [b["text"] for b in buttons(reply)]
        assert labels == [fmt.button_label(c, code) for c in answer.citations]
        assert "reply_to_message" not in reply  # private chats: no quoting
        # "typing…" went out before the answer.
        assert api.chat_actions(chat)[:1] == ["typing"]
        assert first_request(api, "sendChatAction", chat) < first_request(api, "sendMessage", chat)
    api.wait_until_updates_consumed(WAIT)


# Questions whose answers over the seeds cite two passages or more of one article (rare,
# as an answer is one sentence unless another answers too: these name only the topic).
SEVERAL_PASSAGES_OF_ONE_ARTICLE = [
    ("TikTok", "en"),
    ("مايكروسوفت تيك توك", "ar"),
]


@pytest.mark.parametrize(("question", "code"), SEVERAL_PASSAGES_OF_ONE_ARTICLE)
def test_passages_of_one_article_get_their_title_once_and_buttons_that_differ(
    telegram_api: TelegramStandin,
    start_bot: StartBot,
    seeded_engine: Engine,
    question: str,
    code: str,
) -> None:
    api = telegram_api
    start_bot()
    answer = seeded_engine.reply(question).answer
    by_source = Counter(c.source for c in answer.citations)
    [(source, cited)] = by_source.most_common(1)
    assert cited >= 2, "the question no longer draws on several passages of one article"
    api.send_user_message(USER, USER, question, language_code=code)
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    same_article = [c for c in answer.citations if c.source == source]
    title = same_article[0].title
    sources = reply["text"].rsplit("\n\n", 1)[1]
    assert sources.count(title) == 1
    lines = sources.splitlines()
    under_title = lines[
        lines.index(f"{title} · {fmt.language_name(same_article[0].language, code)}") + 1 :
    ]
    place = fmt.plain_text("passage_place", code, n="{}", count="{}")
    for c, line in zip(same_article, under_title[: len(same_article)], strict=True):
        assert line == f"[{c.n}] {fmt.passage_label(c, code)}"
        assert place.format(c.passage, c.passages) in line and c.cited_opening in line
    labels = [b["text"] for b in buttons(reply)]
    assert labels == [fmt.button_label(c, code) for c in answer.citations]
    assert len(set(labels)) == len(labels)
    assert all(
        place.format(c.passage, c.passages) in b
        for c, b in zip(answer.citations, labels, strict=True)
    )

    second = same_article[1]
    data = buttons(reply)[answer.citations.index(second)]["callback_data"]
    query = api.press_button(USER, USER, reply["message_id"], data, language_code=code)
    api.wait_for_callback_answer(query, WAIT)
    _, passage = api.wait_for_messages(USER, 2, WAIT)
    assert passage["text"].splitlines()[:2] == [
        f"[{second.n}] {title}",
        fmt.passage_label(second, code),
    ]
    assert "characters" not in reply["text"] + passage["text"]


def test_pressing_a_citation_button_shows_the_passage_with_the_cited_sentence_in_bold(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    start_bot()
    answer = seeded_engine.reply(TWO_ARTICLES).answer
    assert len(answer.citations) >= 2
    api.send_user_message(USER, USER, TWO_ARTICLES)
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    first, second, *_ = (b["callback_data"] for b in buttons(reply))

    def press(data: str) -> JSON:
        query = api.press_button(USER, USER, reply["message_id"], data)
        return api.wait_for_callback_answer(query, WAIT)

    assert press(first)["text"] is None  # answered, without a pop-up
    _, passage = api.wait_for_messages(USER, 2, WAIT)
    assert passage["reply_to_message"]["message_id"] == reply["message_id"]
    cited = answer.citations[0]
    label = fmt.passage_label(cited, "en")
    language = fmt.language_name(cited.language, "en")
    assert passage["text"].startswith(
        f"[1] {cited.title}\n{label}\n{language} · {cited.source}\n\n"
    )
    assert passage["text"].endswith(cited.text.strip())
    bold = entity_texts(passage)
    assert bold[0] == f"[1] {cited.title}"
    assert bold[1:] == [cited.text[s:e].strip() for s, e in sorted(cited.highlights)]

    press(first)  # again: nothing new in the chat
    assert len(api.sent_messages(USER)) == 2 and api.edits(USER) == []

    press(second)  # another source: the same passage message now shows it
    [edit] = api.wait_for_edits(USER, 1, WAIT)
    assert edit["message_id"] == passage["message_id"]
    assert edit["text"].startswith(f"[2] {answer.citations[1].title}")
    press(first)
    assert api.edits(USER)[-1]["text"] == passage["text"]
    assert len(api.sent_messages(USER)) == 2
    assert buttons(api.get_message(USER, reply["message_id"]) or {}), "the answer keeps its buttons"


def test_buttons_of_an_answer_from_before_a_restart_say_so(
    telegram_api: TelegramStandin, start_bot: StartBot
) -> None:
    api = telegram_api
    first_run = start_bot()
    api.send_user_message(USER, USER, EN, language_code="fr")
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    first_run.stop()
    start_bot()
    query = api.press_button(USER, USER, reply["message_id"], buttons(reply)[0]["callback_data"])
    assert api.wait_for_callback_answer(query, WAIT)["text"] == fmt.plain_text("expired", "fr")
    assert len(api.sent_messages(USER)) == 1


def test_html_in_questions_and_articles_comes_back_as_text(
    telegram_api: TelegramStandin, start_bot: StartBot, engine_copy: Engine, tmp_path: Path
) -> None:
    api = telegram_api
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "html.txt").write_text(
        "Browsers & the <script> tag\n\n"
        "The <script> tag runs code & the <b> tag makes text bold, a W3C report on HTML said.\n",
        encoding="utf-8",
    )
    engine_copy.ingest([folder])
    start_bot(engine_copy)
    api.send_user_message(USER, USER, "What do the <script> tag & the <b> tag do?")
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    assert "The <script> tag runs code & the <b> tag makes text bold" in reply["text"]
    assert "\nBrowsers & the <script> tag · English\n" in reply["text"]
    assert "\n[1] passage 1 of 1 · \u2068“The <script> tag runs code &…”\u2069" in reply["text"]
    assert entity_texts(reply) == ["Sources", "Browsers & the <script> tag"]
    assert len(reply["entities"]) == 2

    query = api.press_button(USER, USER, reply["message_id"], buttons(reply)[0]["callback_data"])
    api.wait_for_callback_answer(query, WAIT)
    passage = api.wait_for_messages(USER, 2, WAIT)[1]
    cited = "The <script> tag runs code & the <b> tag makes text bold, a W3C report on HTML said."
    assert cited in entity_texts(passage)

    api.send_user_message(USER, USER, "<b>Bold?</b> &amp; <script>alert(1)</script> <i")
    reply = api.wait_for_messages(USER, 3, WAIT)[2]
    assert reply["text"] == expected_reply(
        engine_copy, "<b>Bold?</b> &amp; <script>alert(1)</script> <i", "en"
    )
    assert api.internal_errors == [] and all(r.status != 400 for r in api.requests_log)


def test_a_5000_character_answer_arrives_split(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    start_bot(LongAnswers(seeded_engine))
    api.send_user_message(USER, USER, AR, language_code="ar")
    first, second = api.wait_for_messages(USER, 2, WAIT)
    whole = parse_html(fmt.format_answer(LongAnswers(seeded_engine).reply(AR).answer, "ar")).text
    assert len(whole) > 5000
    for part in (first, second):
        assert utf16_length(part["text"]) <= 4096
    assert f"{first['text']} {second['text']}".split() == whole.split()  # no word was cut
    assert "reply_markup" not in first and buttons(second)  # the buttons come last
    last = whole.rsplit("\n", 1)[1]
    assert last.startswith("[") and "المقطع" in last and second["text"].endswith(last)


# ------------------------------------------------------------------ manners


def test_greetings_thanks_and_emoji_get_a_pointer_to_help(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    engine = EngineCalls(seeded_engine)
    runner = start_bot(engine)
    # (message, the user's Telegram language, the reply, in which language)
    cases = [
        ("hello", "en", "greeting_reply", "en"),
        ("Salut !", "en", "greeting_reply", "fr"),  # the reply follows the words used
        ("bonjour", "fr", "greeting_reply", "fr"),
        ("مرحبا", "ar", "greeting_reply", "ar"),
        ("أهلاً وسهلاً 👋", "fr", "greeting_reply", "ar"),
        ("thanks", "en", "thanks_reply", "en"),
        ("merci !", "fr", "thanks_reply", "fr"),
        ("شكرا", "ar", "thanks_reply", "ar"),
        ("Thank you very much!", "ar", "thanks_reply", "en"),
        ("👍", "fr", "emoji_reply", "fr"),  # no words: the user's language
        ("🙏", "ar", "emoji_reply", "ar"),
        ("👍🏽👍🏽", "en", "emoji_reply", "en"),
    ]
    for chat, (text, code, _, _) in enumerate(cases, 1):
        api.send_user_message(chat, chat, text, language_code=code)
    for chat, (text, _, reply_name, language) in enumerate(cases, 1):
        [reply] = api.wait_for_messages(chat, 1, WAIT)
        assert reply["text"] == fmt.plain_text(reply_name, language), text
        assert "/help" in reply["text"] and "\n" not in reply["text"]
        assert not buttons(reply)
    # In a group, a greeting addressed to the bot gets the pointer too.
    api.send_user_message(GROUP, USER, f"@{api.bot_username} bonjour", chat_type="group")
    [pointer] = api.wait_for_messages(GROUP, 1, WAIT)
    assert pointer["text"] == fmt.plain_text("greeting_reply", "fr")
    # None of them was searched for, nor kept as a turn of the conversation.
    assert engine.calls["reply"] == len(cases) + 1 and engine.calls["answered"] == 0
    assert len(handlers(runner).conversations) == 0
    # The replies exist, distinct, in the three languages.
    for name in ("greeting_reply", "thanks_reply", "emoji_reply"):
        assert len({fmt.plain_text(name, language) for language in ("en", "fr", "ar")}) == 3


def test_a_question_that_opens_with_a_greeting_is_answered(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    start_bot()
    cases = [
        ("Hello, who wants to buy TikTok?", "who wants to buy TikTok?", "en"),
        (
            "Bonjour, Microsoft veut-il acquérir TikTok ?",
            "Microsoft veut-il acquérir TikTok ?",
            "fr",
        ),
        ("مرحبًا، لماذا تراجعت أمازون عن حظر تيك توك؟", "لماذا تراجعت أمازون عن حظر تيك توك؟", "ar"),
        ("Thanks! What did Microsoft promise about data storage?", EN, "en"),
    ]
    for chat, (text, _, code) in enumerate(cases, 1):
        api.send_user_message(chat, chat, text, language_code=code)
    for chat, (text, question, code) in enumerate(cases, 1):
        [reply] = api.wait_for_messages(chat, 1, WAIT)
        answer = seeded_engine.reply(question).answer
        assert not answer.abstained, question
        assert reply["text"] == expected_reply(seeded_engine, question, code), text
        assert buttons(reply)


def test_a_refusal_speaks_the_questions_language_else_the_users(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    start_bot()
    cases = [
        # The question's language, whatever the user's.
        ("Who won the 2022 FIFA World Cup?", "fr", "en"),
        ("Qui a gagné la Coupe du monde de football 2022 ?", "en", "fr"),
        ("من فاز بكأس العالم لكرة القدم 2022؟", "fr", "ar"),
        # No telling: the user's Telegram language (English for one the bot doesn't speak).
        ("Zorglub ?", "fr", "fr"),
        ("Zorglub", "ar", "ar"),
        ("Zorglub?", "en", "en"),
        ("Zorglub?", "de", "en"),
    ]
    for chat, (question, code, _) in enumerate(cases, 1):
        api.send_user_message(chat, chat, question, language_code=code)
    for chat, (question, _, language) in enumerate(cases, 1):
        [reply] = api.wait_for_messages(chat, 1, WAIT)
        # Words alone, over articles in three languages: the refusal says they may answer.
        assert reply["text"].split("\n\n")[0] == seeded_engine.refusal(language), question
        assert not buttons(reply)


def test_an_unknown_command_says_so_before_the_help(
    telegram_api: TelegramStandin, start_bot: StartBot
) -> None:
    api = telegram_api
    start_bot()
    cases = [
        ("/foo", "en", "Unknown command /foo."),
        ("/foo bar", "fr", "Commande inconnue : /foo."),
    ]
    cases.append((f"/stats@{api.bot_username}", "ar", "أمر غير معروف: /stats."))
    for chat, (command, code, _) in enumerate(cases, 1):
        api.send_user_message(chat, chat, command, language_code=code, first_name="Lina")
        api.send_user_message(chat, chat, "/help", language_code=code, first_name="Lina")
    api.send_user_message(USER, USER, "/" + "x" * 60)
    for chat, (command, _, unknown) in enumerate(cases, 1):
        reply, help_reply = api.wait_for_messages(chat, 2, WAIT)
        assert reply["text"] == f"{unknown}\n\n{help_reply['text']}", command
    [long] = api.wait_for_messages(USER, 1, WAIT)
    assert long["text"].startswith("Unknown command /" + "x" * 38 + "….\n\n")

    # In a group, "/foo" may be another bot's: only "/foo@<this bot>" is answered.
    def say(text: str) -> int:
        update = api.send_user_message(GROUP, USER, text, chat_type="group")
        return int(api.get_update(update)["message"]["message_id"])

    say("/foo")
    say("/foo@some_other_bot")
    addressed = say(f"/foo@{api.bot_username}")
    [reply] = api.wait_for_messages(GROUP, 1, WAIT)  # handled in order: the others were ignored
    assert reply["reply_to_message"]["message_id"] == addressed
    assert reply["text"].startswith("Unknown command /foo.\n\nHello")
    api.wait_until_updates_consumed(WAIT)
    assert len(api.sent_messages(GROUP)) == 1


def test_a_source_button_with_a_bad_number_gets_its_own_toast(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    runner = start_bot(telegram_rate_limit=60)
    assert len(seeded_engine.reply(EN).answer.citations) == 1
    api.send_user_message(USER, USER, EN)
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    [good] = [b["callback_data"] for b in buttons(reply)]
    key = good.split(":")[1]
    # Buttons a current answer could not have: numbers it doesn't cite, and malformed data.
    bad = [f"cite:{key}:2", f"cite:{key}:0", f"cite:{key}:-1", f"cite:{key}:x", f"cite:{key}"]
    bad += ["cite:", "cite::1", f"cite:{key}:1:1", f"cite:{key}:99999999999"]
    stale = "cite:forgotten:1"  # a key the bot no longer remembers
    data = [*bad, stale]
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d)] for d in data])
    old = runner.run(runner.application.bot.send_message(USER, "forged", reply_markup=keyboard))

    def press(value: str, code: str) -> str | None:
        query = api.press_button(USER, USER, old.message_id, value, language_code=code)
        text: str | None = api.wait_for_callback_answer(query, WAIT)["text"]
        return text

    for value, code in zip(bad, itertools.cycle(["en", "fr", "ar"]), strict=False):
        assert press(value, code) == fmt.plain_text("bad_source", code), value
    for code in ("en", "fr", "ar"):
        assert press(stale, code) == fmt.plain_text("expired", code)
        assert fmt.plain_text("bad_source", code) != fmt.plain_text("expired", code)
    assert len(api.sent_messages(USER)) == 2 and api.edits(USER) == []  # no passage shown
    query = api.press_button(USER, USER, reply["message_id"], good)
    assert api.wait_for_callback_answer(query, WAIT)["text"] is None  # the real one works
    assert len(api.wait_for_messages(USER, 3, WAIT)) == 3
    assert runner.errors == [] and api.internal_errors == []


# ------------------------------------------------------------------ groups and access


def test_in_groups_only_ask_mentions_and_replies_are_answered(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    start_bot()

    def say(text: str, **kwargs: Any) -> int:
        update = api.send_user_message(GROUP, USER, text, chat_type="group", **kwargs)
        return int(api.get_update(update)["message"]["message_id"])

    # A chat's messages are handled in order: when a reply arrives, the messages before it
    # were handled, so "ignored" can be checked without waiting.
    say(EN)
    say(f"/ask@some_other_bot {EN}")
    api.send_user_sticker(GROUP, USER, chat_type="group")
    asked = say(f"/ask {EN}")
    [answer] = api.wait_for_messages(GROUP, 1, WAIT)
    assert answer["reply_to_message"]["message_id"] == asked
    assert answer["text"] == expected_reply(seeded_engine, EN, "en")

    mention = say(f"@{api.bot_username} {FR}", language_code="fr")
    second = api.wait_for_messages(GROUP, 2, WAIT)[1]
    assert second["reply_to_message"]["message_id"] == mention
    assert second["text"] == expected_reply(seeded_engine, FR, "fr")

    reply = say(AR, reply_to_message_id=answer["message_id"])
    third = api.wait_for_messages(GROUP, 3, WAIT)[2]
    assert third["reply_to_message"]["message_id"] == reply
    assert third["text"] == expected_reply(seeded_engine, AR, "en")

    say("thanks, everyone")  # ignored again
    say("/ask")
    usage = api.wait_for_messages(GROUP, 4, WAIT)[3]
    assert usage["text"] == parse_html(fmt.text("ask_usage", "en")).text
    api.wait_until_updates_consumed(WAIT)
    assert len(api.sent_messages(GROUP)) == 4


def test_users_outside_the_allowlists_get_one_polite_line(
    telegram_api: TelegramStandin, start_bot: StartBot
) -> None:
    api = telegram_api
    stranger, open_group, closed_group = 999, -100500, -100600
    start_bot(telegram_allowed_users=f"{USER}", telegram_allowed_chats=f"{open_group}")

    api.send_user_message(stranger, stranger, EN, language_code="fr")
    [refusal] = api.wait_for_messages(stranger, 1, WAIT)
    assert refusal["text"] == fmt.plain_text("not_allowed", "fr")
    assert "reply_markup" not in refusal and api.chat_actions(stranger) == []

    api.send_user_message(USER, USER, EN)  # an allowed user
    assert buttons(api.wait_for_messages(USER, 1, WAIT)[0])

    api.send_user_message(open_group, stranger, f"/ask {EN}", chat_type="group")
    assert buttons(api.wait_for_messages(open_group, 1, WAIT)[0])  # anyone, in an allowed chat

    api.send_user_message(closed_group, stranger, EN, chat_type="group")  # not addressed
    api.send_user_message(closed_group, stranger, f"/ask {EN}", chat_type="group")
    [refusal] = api.wait_for_messages(closed_group, 1, WAIT)
    assert refusal["text"] == fmt.plain_text("not_allowed", "en")

    api.send_user_message(closed_group, USER, f"/ask {EN}", chat_type="group")
    answer = api.wait_for_messages(closed_group, 2, WAIT)[1]
    query = api.press_button(
        closed_group, stranger, answer["message_id"], buttons(answer)[0]["callback_data"]
    )
    assert api.wait_for_callback_answer(query, WAIT)["text"] == fmt.plain_text("not_allowed", "en")
    api.wait_until_updates_consumed(WAIT)
    assert len(api.sent_messages(closed_group)) == 2


def test_over_the_rate_limit_the_user_is_told_when_to_retry(
    telegram_api: TelegramStandin, start_bot: StartBot
) -> None:
    api = telegram_api
    start_bot(telegram_rate_limit=2)
    for question in (EN, FR, AR, EN):
        api.send_user_message(USER, USER, question, language_code="fr")
    answered_1, answered_2, refusal = api.wait_for_messages(USER, 3, WAIT)
    assert buttons(answered_1) and buttons(answered_2)
    expected = parse_html(fmt.text("rate_limited", "fr", limit=2, seconds=0)).text
    prefix, suffix = expected.split("0", 1)
    assert refusal["text"].startswith(prefix) and refusal["text"].endswith(suffix)
    seconds = int(refusal["text"][len(prefix) : -len(suffix)])
    assert 1 <= seconds <= 60
    # A button pressed meanwhile gets the same words, in a pop-up.
    data = buttons(answered_1)[0]["callback_data"]
    query = api.press_button(USER, USER, answered_1["message_id"], data, language_code="fr")
    toast = api.wait_for_callback_answer(query, WAIT)["text"]
    assert toast.startswith(prefix) and toast.endswith(suffix)
    api.send_user_message(USER + 1, USER + 1, EN)  # other users are not limited
    assert buttons(api.wait_for_messages(USER + 1, 1, WAIT)[0])


class EngineCalls:
    """The real engine, counting the bot's calls to it by method name."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reply(self, message: str, **kwargs: Any) -> EngineReply:
        """Counted as "reply", and as "answered" when the bot reads its answer."""
        with self._lock:
            self.calls["reply"] += 1
        inner = self.engine.reply(message, **kwargs)

        def work(stream: bool) -> Iterator[ReplyEvent]:
            with self._lock:
                self.calls["answered"] += 1
            yield Replied(inner.answer, inner.passages)

        return EngineReply(inner.small_talk, work)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.engine, name)
        if not callable(value):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return value(*args, **kwargs)

        return counted


def test_every_command_and_button_counts_against_the_rate_limit(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    engine = EngineCalls(seeded_engine)
    start_bot(engine, telegram_rate_limit=3)
    flooder, other = USER, USER + 1

    def say(user: int, text: str) -> int:
        update = api.send_user_message(GROUP, user, text, chat_type="group", language_code="fr")
        return int(api.get_update(update)["message"]["message_id"])

    say(flooder, f"/ask {EN}")  # 1
    [answer] = api.wait_for_messages(GROUP, 1, WAIT)
    cite = buttons(answer)[0]["callback_data"]
    query = api.press_button(GROUP, flooder, answer["message_id"], cite)  # 2
    assert api.wait_for_callback_answer(query, WAIT)["text"] is None
    say(flooder, "/sources")  # 3
    over = say(flooder, "/help")  # over the limit: one reply says so...
    for text in ("/reset", "/ask", "/sources", f"/ask {FR}", "/start", "/help"):
        say(flooder, text)  # ... and the next ones get none
    # A group's messages are handled in order: when the other user's answer comes, all of
    # the flooder's messages were handled.
    say(other, f"/ask {FR}")
    sent = api.wait_for_messages(GROUP, 5, WAIT)
    query = api.press_button(GROUP, flooder, answer["message_id"], cite, language_code="fr")
    toast = api.wait_for_callback_answer(query, WAIT)["text"]  # a button: a pop-up
    first, passage, listing, refusal, other_answer = sent
    assert passage["reply_to_message"]["message_id"] == first["message_id"]
    assert listing["text"].startswith("Articles indexés (5)")
    expected = fmt.plain_text("rate_limited", "fr", limit=3, seconds=0)
    prefix, suffix = expected.split("0", 1)
    assert refusal["reply_to_message"]["message_id"] == over
    assert refusal["text"].startswith(prefix) and refusal["text"].endswith(suffix)
    assert toast.startswith(prefix) and toast.endswith(suffix)
    assert other_answer["text"] == expected_reply(seeded_engine, FR, "fr")
    assert len(api.edits(GROUP)) == 0  # the refused press did not swap the passage
    # Refused requests cost the engine nothing: two questions and one list.
    assert engine.calls["reply"] == engine.calls["answered"] == 2 and engine.calls["articles"] == 1


def test_stickers_photos_and_voice_get_a_hint_to_write(
    telegram_api: TelegramStandin, start_bot: StartBot
) -> None:
    api = telegram_api
    start_bot()
    api.send_user_sticker(USER, USER, language_code="fr")
    api.send_user_photo(USER, USER, language_code="ar")
    api.send_user_voice(USER, USER, language_code="en")
    hints = [m["text"] for m in api.wait_for_messages(USER, 3, WAIT)]
    assert hints == [fmt.plain_text("text_only", lang) for lang in ("fr", "ar", "en")]

    api.send_user_message(GROUP, USER, f"/ask {EN}", chat_type="group")
    [answer] = api.wait_for_messages(GROUP, 1, WAIT)
    api.send_user_voice(GROUP, USER, chat_type="group")  # not for the bot
    api.send_user_sticker(GROUP, USER, chat_type="group", reply_to_message_id=answer["message_id"])
    hint = api.wait_for_messages(GROUP, 2, WAIT)[1]
    assert hint["text"] == fmt.plain_text("text_only", "en")
    api.wait_until_updates_consumed(WAIT)
    assert len(api.sent_messages(GROUP)) == 2


# ------------------------------------------------------------------ memory, load, failures


def test_each_chat_remembers_its_turns_until_reset(
    telegram_api: TelegramStandin, start_bot: StartBot
) -> None:
    api = telegram_api
    runner = start_bot()
    api.send_user_message(USER, USER, EN)
    api.send_user_message(USER, USER, FR)
    api.send_user_message(USER + 1, USER + 1, AR)
    api.wait_for_messages(USER, 2, WAIT)
    api.wait_for_messages(USER + 1, 1, WAIT)
    memory = handlers(runner).conversations
    conversation = memory.get(USER)
    assert conversation is not None
    assert [turn.question for turn in conversation.turns] == [EN, FR]
    api.send_user_message(USER, USER, "/reset", language_code="ar")
    assert api.wait_for_messages(USER, 3, WAIT)[2]["text"] == fmt.plain_text("reset", "ar")
    assert len(conversation) == 0
    other = memory.get(USER + 1)
    assert other is not None and len(other) == 1


class ConcurrencyProbe:
    """The real engine, counting the questions in progress at once. The first questions
    wait (up to a timeout) until `wanted` are in progress together, which only happens if
    chats are handled concurrently and the engine runs off the event loop."""

    def __init__(self, engine: Engine, wanted: int) -> None:
        self.engine = engine
        self.wanted = wanted
        self.in_progress = 0
        self.most_at_once = 0
        self._reached = False
        self._condition = threading.Condition()

    def reply(self, question: str, **kwargs: Any) -> EngineReply:
        inner = self.engine.reply(question, **kwargs)

        def work(stream: bool) -> Iterator[ReplyEvent]:
            with self._condition:
                self.in_progress += 1
                self.most_at_once = max(self.most_at_once, self.in_progress)
                if self.in_progress >= self.wanted:
                    self._reached = True
                    self._condition.notify_all()
                self._condition.wait_for(lambda: self._reached, timeout=WAIT)
            try:
                replied = Replied(inner.answer, inner.passages)
            finally:
                with self._condition:
                    self.in_progress -= 1
            yield replied

        return EngineReply(inner.small_talk, work)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


class LongAnswers:
    """The real engine, with each answer's text repeated past 5,000 characters, the length
    a language model's answer can reach."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def reply(self, question: str, **kwargs: Any) -> EngineReply:
        inner = self.engine.reply(question, **kwargs)

        def work(stream: bool) -> Iterator[ReplyEvent]:
            answer = inner.answer
            repeats = 5200 // len(answer.answer) + 1
            text = " ".join([f"📰 {answer.answer}"] * repeats)
            yield Replied(answer.model_copy(update={"answer": text}), inner.passages)

        return EngineReply(inner.small_talk, work)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def test_twenty_chats_at_once_are_all_answered_and_no_update_is_lost(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_engine: Engine
) -> None:
    api = telegram_api
    workers = 4
    probe = ConcurrencyProbe(seeded_engine, wanted=workers)
    runner = start_bot(probe, telegram_workers=workers)
    questions = [EN, FR, AR, EN_TWO_SOURCES]
    chats = [USER + i for i in range(20)]
    for round_number in range(2):
        for index, chat in enumerate(chats):
            question = questions[(index + round_number) % len(questions)]
            api.send_user_message(chat, chat, question)
    for index, chat in enumerate(chats):
        replies = api.wait_for_messages(chat, 2, WAIT)
        expected = [
            expected_reply(seeded_engine, questions[(index + r) % len(questions)], "en")
            for r in range(2)
        ]
        assert [r["text"] for r in replies] == expected  # each chat's own answers, in order
    api.wait_until_updates_consumed(WAIT)
    assert probe.most_at_once >= workers
    assert runner.errors == [] and api.internal_errors == []


def test_an_engine_failure_gets_an_apology_and_a_logged_trace_without_the_token(
    telegram_api: TelegramStandin,
    start_bot: StartBot,
    engine_copy: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = telegram_api
    caplog.set_level(logging.DEBUG)
    start_bot(engine_copy)
    api.send_user_message(USER, USER, EN)
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    query = api.press_button(USER, USER, reply["message_id"], buttons(reply)[0]["callback_data"])
    api.wait_for_callback_answer(query, WAIT)

    # Damage the index under the running bot: the next question fails in the engine.
    (engine_copy.settings.lexical_dir() / "CURRENT").write_text("gone", encoding="utf-8")
    api.send_user_message(USER, USER, FR, language_code="fr")
    apology = api.wait_for_messages(USER, 3, WAIT)[2]
    assert apology["text"] == fmt.plain_text("error", "fr")
    [failure] = [r for r in caplog.records if r.name == "newsbot.telegram" and r.exc_info]
    assert failure.levelno == logging.ERROR
    assert "IndexUnavailableError" in caplog.text and "Traceback" in caplog.text

    secret = api.token.split(":", 1)[1]
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "getUpdates" in logged  # python-telegram-bot's debug lines were captured
    assert api.token not in logged and secret not in logged


def test_telegram_flood_limits_are_waited_out(
    telegram_api: TelegramStandin, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    api = telegram_api
    runner = start_bot()
    api.inject_flood_errors(1, retry_after=1, chat_id=USER)
    api.send_user_message(USER, USER, EN)
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    assert buttons(reply)
    assert [r.status for r in api.requests("sendMessage")] == [429, 200]
    assert runner.errors == []


# ------------------------------------------------------------------ configuration and start-up


def test_a_token_telegram_refuses_stops_the_bot_with_one_line_without_the_token(
    telegram_api: TelegramStandin, seeded_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "7000000001:" + "W" * 35
    config = TelegramConfig.from_settings(
        TelegramSettings(
            telegram_token=wrong, telegram_base_url=telegram_api.base_url, telegram_public=True
        )
    )
    application = build_application(config, seeded_engine)
    with pytest.raises(ConfigError) as caught:
        asyncio.run(serve(application, config))
    assert str(caught.value) == "Telegram refused NEWSBOT_TELEGRAM_TOKEN; check it with @BotFather"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert [r.status for r in telegram_api.requests("getMe")] == [401]
    assert "W" * 35 not in caplog.text


def test_an_unreachable_bot_api_is_a_one_line_backend_error(seeded_engine: Engine) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    token = "7000000001:" + "U" * 35
    config = TelegramConfig.from_settings(
        TelegramSettings(
            telegram_token=token,
            telegram_base_url=f"http://127.0.0.1:{port}/bot",
            telegram_public=True,
        )
    )
    application = build_application(config, seeded_engine)
    with pytest.raises(BackendError) as caught:
        asyncio.run(serve(application, config))
    message = str(caught.value)
    assert message.startswith(f"the Bot API at http://127.0.0.1:{port}/bot failed: ")
    assert "U" * 35 not in message and "\n" not in message


def test_a_webhook_port_already_in_use_is_a_one_line_error(
    telegram_api: TelegramStandin, seeded_engine: Engine
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = TelegramConfig.from_settings(
            TelegramSettings(
                telegram_token=telegram_api.token,
                telegram_base_url=telegram_api.base_url,
                telegram_public=True,
                telegram_webhook_url="https://bot.example.org/hook",
                telegram_webhook_port=port,
            )
        )
        application = build_application(config, seeded_engine)
        with pytest.raises(BackendError) as caught:
            asyncio.run(serve(application, config))
    assert str(caught.value).startswith(f"cannot serve the webhook on 127.0.0.1:{port}: ")
    assert "\n" not in str(caught.value)


class StderrLines(io.StringIO):
    """sys.stderr for a test: what was written, and an event set once `newsbot telegram` says
    that it is answering questions."""

    def __init__(self) -> None:
        super().__init__()
        self.bot_started = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "is answering questions" in self.getvalue():
            self.bot_started.set()
        return written


def test_newsbot_telegram_makes_up_one_webhook_secret_and_checks_the_one_it_registers(
    telegram_api: TelegramStandin,
    seeded_engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`newsbot telegram` in this process, in webhook mode without NEWSBOT_TELEGRAM_WEBHOOK_SECRET:
    the settings are read and the configuration built once, so one secret is made up, the
    one registered with Telegram, which the webhook server then accepts."""
    api = telegram_api
    shutil.copytree(seeded_engine.settings.data_dir, tmp_path / "data")
    with socket.socket() as probe:  # a free port for the bot's webhook server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_CORPUS_DIR": str(seeded_engine.settings.corpus_dir),
        "NEWSBOT_TELEGRAM_TOKEN": api.token,
        "NEWSBOT_TELEGRAM_BASE_URL": api.base_url,
        "NEWSBOT_TELEGRAM_PUBLIC": "true",
        "NEWSBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/newsbot/hook",
        "NEWSBOT_TELEGRAM_WEBHOOK_PORT": str(port),
        "PTB_TIMEDELTA": "1",  # as main() sets it, undone after the test
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    made_up: list[str] = []
    token_urlsafe = secrets.token_urlsafe

    def recording_token_urlsafe(nbytes: int | None = None) -> str:
        value = token_urlsafe(nbytes)
        if nbytes == WEBHOOK_SECRET_BYTES:
            made_up.append(value)
        return value

    monkeypatch.setattr(secrets, "token_urlsafe", recording_token_urlsafe)
    stderr = StderrLines()
    monkeypatch.setattr(sys, "stderr", stderr)
    registered: list[str] = []
    statuses: list[int] = []

    def play_telegram() -> None:
        try:
            if not stderr.bot_started.wait(START_WAIT):
                return
            webhook = api.webhook
            assert webhook is not None
            registered.append(webhook["secret_token"])
            update = api.get_update(api.send_user_message(USER, USER, EN))
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/newsbot/hook",
                data=json.dumps(update).encode(),
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": webhook["secret_token"],
                },
            )
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                statuses.append(response.status)
            api.wait_for_messages(USER, 1, WAIT)
        finally:
            if api.webhook is not None:  # serve() has its signal handlers: SIGTERM stops it
                os.kill(os.getpid(), signal.SIGTERM)

    telegram = threading.Thread(target=play_telegram)
    telegram.start()
    try:
        cli.main(["telegram"], prog_name="newsbot", standalone_mode=False)
    finally:
        telegram.join(START_WAIT + 2 * WAIT)
    assert statuses == [200], stderr.getvalue()
    assert len(registered) == 1 and made_up == registered
    assert "warning" not in stderr.getvalue()  # every NEWSBOT_TELEGRAM_* name is known


# ------------------------------------------------------------------ a language model writing


@pytest.fixture
def writing_engine(seeded_engine: Engine, openai_standin: OpenAIStandIn) -> Engine:
    """The seeded engine with a language model: the OpenAI stand-in, scripted per test.
    The engine stops a model's answer at NEWSBOT_LLM_MAX_ANSWER_CHARS (where this checkout
    has that setting): here at its most, 100,000 characters, for the bot's own limits."""
    longest = {"llm_max_answer_chars": 100_000}
    if not set(longest) <= set(Settings.model_fields):
        longest = {}
    return model_engine(seeded_engine.settings, openai_standin, llm_translate=False, **longest)


def wait_for_buttons(api: TelegramStandin, chat: int) -> list[JSON]:
    """The bot's messages in `chat`, once one of them has its citation buttons."""
    api.wait_for(lambda: any(buttons(m) for m in api.sent_messages(chat)), WAIT, "buttons")
    return api.sent_messages(chat)


@needs_openai
def test_a_generated_answer_is_edited_in_as_it_is_written_then_formatted(
    telegram_api: TelegramStandin,
    start_bot: StartBot,
    writing_engine: Engine,
    openai_standin: OpenAIStandIn,
) -> None:
    api = telegram_api
    chunks = ["Microsoft <b>& ", "Oracle said ", "the data would stay ", "in the US [1]."]
    openai_standin.responder = Script(answer=Reply(text="".join(chunks), chunks=chunks))
    start_bot(writing_engine, telegram_edit_interval=0)
    api.send_user_message(USER, USER, EN, language_code="en")
    [reply] = wait_for_buttons(api, USER)

    answer = writing_engine.reply(EN).answer
    assert answer.mode == "generated"
    assert answer.answer == "Microsoft <b>& Oracle said the data would stay in the US [1]."
    assert reply["text"] == expected_reply(writing_engine, EN, "en")
    assert [b["text"] for b in buttons(reply)] == [
        fmt.button_label(c, "en") for c in answer.citations
    ]
    # The model's text went out escaped, piece by piece, in one message edited as it grew.
    [first] = [r.params["text"] for r in api.requests("sendMessage")]
    assert first == "Microsoft &lt;b&gt;&amp; …"
    *partial, final = api.edits(USER)
    assert len(partial) >= 2 and final["text"] == reply["text"]
    shown = [first.replace("&lt;b&gt;&amp;", "<b>&")] + [edit["text"] for edit in partial]
    for earlier, later in itertools.pairwise(shown):
        assert len(later) > len(earlier)
    for text in shown:
        assert text.endswith(" …") and answer.answer.startswith(text.removesuffix(" …"))
    assert not any(edit.get("entities") for edit in partial), "<b> stayed text, not bold"
    assert all(edit["message_id"] == reply["message_id"] for edit in api.edits(USER))


@needs_openai
def test_a_streamed_answer_reaches_the_chat_without_escape_codes(
    telegram_api: TelegramStandin,
    start_bot: StartBot,
    writing_engine: Engine,
    openai_standin: OpenAIStandIn,
) -> None:
    api = telegram_api
    openai_standin.responder = Script(answer=Reply(chunks=HOSTILE_CHUNKS))
    start_bot(writing_engine, telegram_edit_interval=0)
    api.send_user_message(USER, USER, EN, language_code="en")
    [reply] = wait_for_buttons(api, USER)
    sent = [r.params["text"] for r in api.requests("sendMessage")]
    shown = sent + [edit["text"] for edit in api.edits(USER)]
    assert len(shown) >= 2 and "United States [1]" in reply["text"]
    for text in shown:
        assert not ESCAPES.search(text), repr(text)


@needs_openai
def test_edits_are_paced_and_a_long_answer_is_split_under_its_first_part(
    telegram_api: TelegramStandin,
    start_bot: StartBot,
    writing_engine: Engine,
    openai_standin: OpenAIStandIn,
) -> None:
    api = telegram_api
    sentence = "Microsoft promised that American data would stay in the United States [1]. "
    openai_standin.responder = Script(answer=Reply(text=sentence * 80, chunks=[sentence] * 80))
    start_bot(writing_engine, telegram_edit_interval=60)
    api.send_user_message(USER, USER, EN, language_code="en")
    first, second = wait_for_buttons(api, USER)

    # The first piece was sent, then nothing until the end: one edit, into the first part.
    [sent, _] = api.requests("sendMessage")
    assert sent.params["text"] == sentence.strip() + " …"
    [edit] = api.edits(USER)
    assert edit["message_id"] == first["message_id"] and "reply_markup" not in first
    assert buttons(second) and utf16_length(first["text"]) <= 4096
    whole = expected_reply(writing_engine, EN, "en")
    assert len(whole) > 5000
    assert f"{first['text']} {second['text']}".split() == whole.split()


@needs_openai
def test_a_megabyte_answer_takes_at_most_three_messages_and_says_it_was_shortened(
    telegram_api: TelegramStandin,
    start_bot: StartBot,
    writing_engine: Engine,
    openai_standin: OpenAIStandIn,
) -> None:
    api = telegram_api
    sentence = "Microsoft a promis que les données des Américains resteraient aux États-Unis [1]. "
    chunk = sentence * 200
    chunks = [chunk] * (1_000_000 // len(chunk) + 1)  # a megabyte, in pieces of 16 kB
    openai_standin.responder = Script(answer=Reply(text="".join(chunks), chunks=chunks))
    runner = start_bot(writing_engine, telegram_edit_interval=0)
    api.send_user_message(USER, USER, FR, language_code="fr")
    messages = wait_for_buttons(api, USER)  # the buttons come with the answer's last part
    assert len(messages) == 3
    texts = [m["text"] for m in messages]
    assert all(utf16_length(text) <= 4096 for text in texts)
    kept, rest = " ".join(texts).split(" …", 1)
    words = kept.split()
    assert words == (sentence * 300).split()[: len(words)] and len(kept) > 10_000
    note = fmt.plain_text("shortened", "fr")
    assert rest.lstrip().startswith(note) and note in entity_texts(messages[-1], "italic")
    *_, title, label = rest.splitlines()  # the source list, whole
    assert title.endswith("· français") and label.startswith("[1] passage ")

    # The citation buttons work.
    data = buttons(messages[-1])[0]["callback_data"]
    query = api.press_button(USER, USER, messages[-1]["message_id"], data, language_code="fr")
    assert api.wait_for_callback_answer(query, WAIT)["text"] is None
    passage = api.wait_for_messages(USER, 4, WAIT)[3]
    assert passage["reply_to_message"]["message_id"] == messages[-1]["message_id"]
    assert runner.errors == [] and api.internal_errors == []


def test_a_follow_up_is_read_with_the_chats_question_before(
    telegram_api: TelegramStandin, start_bot: StartBot, seeded_model_engine: Engine
) -> None:
    api = telegram_api
    runner = start_bot(seeded_model_engine)
    titles = {a.source: a.title for a in seeded_model_engine.articles()}
    wait = 120.0  # the multilingual model, on a busy machine
    api.send_user_message(USER, USER, "Microsoft veut-il acheter TikTok ?", language_code="fr")
    [first] = api.wait_for_messages(USER, 1, wait)
    assert titles[ENGLISH_SEED] in entity_texts(first)
    api.send_user_message(USER, USER, "et pour Amazon ?", language_code="fr")
    follow_up = api.wait_for_messages(USER, 2, wait)[1]
    assert "Lu comme la suite de « Microsoft veut-il acheter TikTok ? »." in entity_texts(
        follow_up, "italic"
    )
    assert titles[ARABIC_SEED] in entity_texts(follow_up)
    assert titles[ENGLISH_SEED] not in entity_texts(follow_up)
    assert runner.errors == [] and api.internal_errors == []
