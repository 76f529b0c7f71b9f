"""The bot's behaviour: one handler per kind of update (a question, a command, a button),
all calling the same engine."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram import formatting as fmt
from bot.telegram.access import RateLimiter
from bot.telegram.concurrency import Recent
from bot.telegram.config import TelegramConfig
from prompts import localized_prompt
from rag.engine import Engine
from rag.errors import BadInputError
from rag.models import Answer, ArticleInfo, Citation, Conversation
from rag.reply import Reply

logger = logging.getLogger("newsbot.telegram")

T = TypeVar("T")


NewsbotApplication = Application[Any, Any, Any, Any, Any, Any]


MAX_REMEMBERED_CHATS = 10_000


MAX_REMEMBERED_ANSWERS = 5_000


TYPING_REFRESH_SECONDS = 4.5


CALLBACK_PREFIX = "cite"


SOURCES_PREFIX = "src"


HANDLERS_KEY = "newsbot"


MAX_SHOWN_COMMAND_CHARS = 40  # of an unknown command, quoted back to the user


@dataclass
class ShownAnswer:
    """An answer's citations, kept so that its buttons can show the passages."""

    chat_id: int
    citations: dict[int, Citation]
    language: str
    passage_message_id: int | None = None
    shown: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _after_command(text: str) -> str:
    """The text after "/command" or "/command@bot"."""
    parts = text.split(None, 1)
    return parts[1] if len(parts) > 1 else ""


def _without_entities(text: str, entities: Iterable[MessageEntity]) -> str:
    """`text` without the given entities (whose offsets count UTF-16 code units)."""
    encoded = text.encode("utf-16-le")
    for entity in sorted(entities, key=lambda e: e.offset, reverse=True):
        encoded = encoded[: 2 * entity.offset] + encoded[2 * (entity.offset + entity.length) :]
    return encoded.decode("utf-16-le")


def _mentions_of(message: Message, bot: Bot) -> list[MessageEntity]:
    """The entities of `message` that mention the bot (@username, or a text mention)."""
    username = f"@{bot.username}".lower()
    entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    return [
        entity
        for entity, value in entities.items()
        if (entity.type == MessageEntity.MENTION and value.lower() == username)
        or (entity.user is not None and entity.user.id == bot.id)
    ]


def _is_reply_to(message: Message, bot: Bot) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot.id


_CITE_DATA = re.compile(rf"{CALLBACK_PREFIX}:([A-Za-z0-9_-]{{1,64}}):([0-9]{{1,9}})")


def _parse_callback(data: str | None) -> tuple[str, int] | None:
    """The answer key and citation number of a button's "cite:KEY:N" data; None if
    malformed."""
    match = _CITE_DATA.fullmatch(data or "")
    return (match[1], int(match[2])) if match else None


_PAGE_DATA = re.compile(rf"{SOURCES_PREFIX}:([1-9][0-9]{{0,6}})")


def _parse_page(data: str | None) -> int | None:
    """The page number of a `/sources` page button's "src:N" data; None if malformed."""
    match = _PAGE_DATA.fullmatch(data or "")
    return int(match[1]) if match else None


def _user_language(update: Update) -> str:
    user = update.effective_user
    return fmt.ui_language(user.language_code if user else None)


def _command_of(text: str) -> tuple[str, str]:
    """The command of a message such as "/foo@bot args", without its "@bot", and the bot
    it names ("" when none)."""
    word = text.split(None, 1)[0] if text.strip() else ""
    command, _, bot_name = word.partition("@")
    return command, bot_name


class NewsbotHandlers:
    """The bot's behaviour: one method per kind of update, all calling the same engine."""

    def __init__(self, engine: Engine, config: TelegramConfig) -> None:
        self.engine = engine
        self.config = config
        self.rate_limiter = RateLimiter(config.rate_limit)
        self.conversations: Recent[int, Conversation] = Recent(MAX_REMEMBERED_CHATS)
        self.answers: Recent[str, ShownAnswer] = Recent(MAX_REMEMBERED_ANSWERS)
        self.executor = ThreadPoolExecutor(
            max_workers=config.workers, thread_name_prefix="newsbot-engine"
        )

    def register(self, application: NewsbotApplication) -> None:
        private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
        not_text = ~filters.TEXT & ~filters.StatusUpdate.ALL
        application.add_handlers(
            [
                CommandHandler(["start", "help"], self.help),
                CommandHandler("sources", self.sources),
                CommandHandler("reset", self.reset),
                CommandHandler("ask", self.ask_command),
                CallbackQueryHandler(self.show_passage, pattern=rf"^{CALLBACK_PREFIX}:"),
                CallbackQueryHandler(self.sources_page, pattern=rf"^{SOURCES_PREFIX}:"),
                CallbackQueryHandler(self.unknown_button),
                MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.private_text),
                MessageHandler(filters.COMMAND, self.unknown_command),
                MessageHandler(groups & filters.TEXT & ~filters.COMMAND, self.group_text),
                MessageHandler(private & not_text, self.not_text),
                MessageHandler(groups & filters.REPLY & not_text, self.not_text),
            ]
        )
        application.add_error_handler(self.on_error)

    # -- lifecycle

    async def post_init(self, application: NewsbotApplication) -> None:
        for warning in self.engine.warnings:
            logger.warning("%s", warning)
        if self.config.access.is_open:
            logger.warning("NEWSBOT_TELEGRAM_PUBLIC is true: anyone on Telegram can use this bot")
        for language in fmt.UI_LANGUAGES:
            commands = [
                BotCommand(*line.split(" - ", 1))
                for line in localized_prompt("telegram/commands", language).splitlines()
                if " - " in line
            ]
            try:
                await application.bot.set_my_commands(
                    commands, language_code=None if language == "en" else language
                )
            except TelegramError as exc:
                logger.warning("could not set the bot's %s command menu: %s", language, exc)
        await self.run_engine(self.engine.stats)  # loads the index before the first question

    async def post_shutdown(self, application: NewsbotApplication) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def run_engine(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run an engine call in the thread pool, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, functools.partial(function, *args, **kwargs)
        )

    # -- commands

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help: greet, say what the bot knows and how to ask."""
        message = update.effective_message
        if message is None or not await self._admit(update):
            return
        await message.reply_text(await self._help_text(update, context.bot))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command the bot doesn't have: say so, then the help. In a group, only a command
        addressed to the bot ("/foo@bot"): a bare "/foo" may be another bot's."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        command, bot_name = _command_of(message.text)
        addressed = bot_name.lower() == (context.bot.username or "").lower()
        if message.chat.type != "private" and not addressed:
            return
        if not await self._admit(update):
            return
        if len(command) > MAX_SHOWN_COMMAND_CHARS:
            command = command[: MAX_SHOWN_COMMAND_CHARS - 1] + "…"
        unknown = fmt.text("unknown_command", _user_language(update), command=command)
        await message.reply_text(unknown + "\n\n" + await self._help_text(update, context.bot))

    async def _help_text(self, update: Update, bot: Bot) -> str:
        """The greeting of /start and /help, in the user's language."""
        language = _user_language(update)
        articles = await self.run_engine(self.engine.articles)
        codes = sorted(
            {a.language for a in articles},
            key=lambda c: (fmt.UI_LANGUAGES.index(c) if c in fmt.UI_LANGUAGES else 9, c),
        )
        user = update.effective_user
        return fmt.text(
            "help",
            language,
            first_name=user.first_name if user else "",
            articles=len(articles),
            languages=fmt.join_names([fmt.language_name(c, language) for c in codes], language),
            username=bot.username,
        )

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/sources: the indexed articles, in one message that shows a page of them at a time,
        with buttons to turn the pages (`sources_page`)."""
        message = update.effective_message
        if message is None or not await self._admit(update):
            return
        articles = await self.run_engine(self.engine.articles)
        text, keyboard = self._sources_page(articles, 1, _user_language(update))
        await message.reply_text(text, reply_markup=keyboard)

    def _sources_page(
        self, articles: list[ArticleInfo], page: int, language: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """Page `page` of the articles, and its buttons: previous, "page k of n", next."""
        pages = fmt.article_pages(len(articles))
        text = fmt.format_articles(articles, language, page)
        if pages == 1:
            return text, None

        def button(label: str, target: int) -> InlineKeyboardButton:
            return InlineKeyboardButton(label, callback_data=f"{SOURCES_PREFIX}:{target}")

        row = [button(fmt.plain_text("page", language, page=page, pages=pages), page)]
        if page > 1:
            row.insert(0, button(fmt.plain_text("previous_page", language), page - 1))
        if page < pages:
            row.append(button(fmt.plain_text("next_page", language), page + 1))
        return text, InlineKeyboardMarkup([row])

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/reset: forget the chat's conversation."""
        message = update.effective_message
        if message is None or not await self._admit(update):
            return
        conversation = self.conversations.get(message.chat_id)
        if conversation is not None:
            conversation.reset()
        await message.reply_text(fmt.text("reset", _user_language(update)))

    async def ask_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/ask QUESTION, in any chat."""
        message = update.effective_message
        if message is not None and message.text is not None:
            await self._question(update, context, _after_command(message.text))

    # -- messages

    async def private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """In a private chat, any text is a question."""
        message = update.effective_message
        if message is not None and message.text is not None:
            await self._question(update, context, message.text)

    async def group_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """In a group, only a message that mentions the bot or replies to it is a question."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        mentions = _mentions_of(message, context.bot)
        if mentions or _is_reply_to(message, context.bot):
            await self._question(update, context, _without_entities(message.text, mentions))

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice...: say that the bot reads text."""
        message = update.effective_message
        if message is None:
            return
        if message.chat.type != "private" and not _is_reply_to(message, context.bot):
            return
        if await self._admit(update):
            await message.reply_text(fmt.text("text_only", _user_language(update)))

    async def _admit(self, update: Update) -> bool:
        """Whether to handle this update: the allowlists let it in and its user is within the
        rate limit, which every question, command and button press counts against.

        If not, say so, without letting the bot be made to spam: outside the allowlists, at
        most as often as the rate limit allows; over the rate limit, in a reply to the first
        refused message (the next ones get none until the user may ask again; a refused button
        press counts as that first one) and in a pop-up for every button press (Telegram
        expects each press to be answered, and only the user sees it).
        """
        user, chat = update.effective_user, update.effective_chat
        if not self.config.access.allows(user.id if user else None, chat.id if chat else None):
            await self._refuse_stranger(update)
            return False
        sender = user.id if user else chat.id if chat else None
        decision = self.rate_limiter.check(sender) if sender is not None else None
        if decision is None or decision.allowed:
            return True
        if decision.first_refusal:
            logger.info("user %s is over the rate limit; ignoring them for now", sender)
        language = _user_language(update)
        values = {"limit": self.rate_limiter.per_minute, "seconds": decision.retry_after}
        if update.callback_query is not None:
            await update.callback_query.answer(fmt.plain_text("rate_limited", language, **values))
        elif decision.first_refusal and update.effective_message is not None:
            await update.effective_message.reply_text(fmt.text("rate_limited", language, **values))
        return False

    async def _refuse_stranger(self, update: Update) -> None:
        """Log the ids of someone outside the allowlists, and tell them, now and then."""
        user, chat = update.effective_user, update.effective_chat
        logger.info(
            "refused user %s in chat %s: not in the allowlists",
            user.id if user else None,
            chat.id if chat else None,
        )
        say_so = user is not None and self.rate_limiter.check(user.id).allowed
        language = _user_language(update)
        if update.callback_query is not None:
            await update.callback_query.answer(
                fmt.plain_text("not_allowed", language) if say_so else None
            )
        elif update.effective_message is not None and say_so:
            await update.effective_message.reply_text(fmt.text("not_allowed", language))

    async def _question(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str
    ) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not await self._admit(update):
            return
        language = _user_language(update)
        conversation = self.conversations.get(message.chat_id)
        if conversation is None:
            conversation = Conversation()
        try:
            reply = self.engine.reply(question, conversation=conversation, reply_language=language)
        except BadInputError:
            await message.reply_text(fmt.text("ask_usage", language))
            return
        if (talk := reply.small_talk) is not None:
            # Greetings and thanks are answered in their own language, emoji in the user's.
            await message.reply_text(fmt.text(f"{talk.kind}_reply", talk.language or language))
            return
        # Kept from here, with no await since the get: a chat's concurrent questions share it.
        self.conversations.put(message.chat_id, conversation)
        streamed: Message | None = None
        async with self._typing(context.bot, message.chat_id):
            try:
                if self.engine.mode == "generated":
                    streamed = await self._show_streaming(message, reply)
                answer = await self.run_engine(lambda: reply.answer)
            except Exception:
                logger.exception("the engine failed on a question in chat %s", message.chat_id)
                await message.reply_text(fmt.text("error", language))
                return
        await self.send_answer(message, answer, language, streamed=streamed)

    async def _show_streaming(self, message: Message, reply: Reply) -> Message | None:
        """Show the answer in a reply as the model writes it: the reply is sent with the
        first piece and edited with the text so far when a piece comes at least
        `edit_interval` seconds after the last edit. Returns that reply."""
        text, shown_text = "", ""
        shown: Message | None = None
        last_edit = -math.inf
        async with contextlib.aclosing(reply.astream()) as pieces:
            async for piece in pieces:
                text += piece
                if time.monotonic() - last_edit < self.config.edit_interval:
                    continue
                partial = fmt.partial_answer(text)
                if partial == shown_text:
                    continue
                shown = await self._show_partial(message, shown, partial)
                shown_text, last_edit = partial, time.monotonic()
        return shown

    async def _show_partial(self, message: Message, shown: Message | None, text: str) -> Message:
        if shown is None:
            return await message.reply_text(text)
        try:
            edited = await shown.edit_text(text)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise
            return shown
        return edited if isinstance(edited, Message) else shown

    @contextlib.asynccontextmanager
    async def _typing(self, bot: Bot, chat_id: int) -> AsyncIterator[None]:
        """Show "typing…" while the block runs (Telegram shows it for 5 s at a time). The
        first one is sent alongside the work, and is out before the block ends."""
        first_done = asyncio.Event()

        async def keep_typing() -> None:
            while True:
                try:
                    await bot.send_chat_action(chat_id, ChatAction.TYPING)
                except TelegramError as exc:  # cosmetic: never fail an answer for it
                    logger.debug("could not show typing in chat %s: %s", chat_id, exc)
                first_done.set()
                await asyncio.sleep(TYPING_REFRESH_SECONDS)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first_done.wait(), TYPING_REFRESH_SECONDS)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def send_answer(
        self, message: Message, answer: Answer, language: str, *, streamed: Message | None = None
    ) -> list[Message]:
        """Send `answer` in reply to `message`: split when long (shortened, with a note, past
        `max_answer_messages`), with one button per citation under the last part. Every
        answer goes out through here. `streamed` is the reply that showed the answer as it
        was written: it becomes the first part."""
        labels = fmt.answer_language(answer, language)
        parts = fmt.answer_messages(answer, labels, self.config.max_answer_messages)
        keyboard = self._citation_keyboard(message.chat_id, answer, labels)
        sent = []
        for index, part in enumerate(parts):
            markup = keyboard if index == len(parts) - 1 else None
            if index == 0 and streamed is not None:
                sent.append(await self._replace_streamed(streamed, part, markup))
            else:
                sent.append(
                    await message.reply_text(
                        part, reply_markup=markup, do_quote=None if index == 0 else False
                    )
                )
        return sent

    async def _replace_streamed(
        self, streamed: Message, text: str, markup: InlineKeyboardMarkup | None
    ) -> Message:
        try:
            edited = await streamed.edit_text(text, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise
            if markup is not None:
                await streamed.edit_reply_markup(markup)
            return streamed
        return edited if isinstance(edited, Message) else streamed

    def _citation_keyboard(
        self, chat_id: int, answer: Answer, language: str
    ) -> InlineKeyboardMarkup | None:
        if not answer.citations:
            return None
        key = secrets.token_urlsafe(6)
        self.answers.put(key, ShownAnswer(chat_id, {c.n: c for c in answer.citations}, language))
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        fmt.button_label(c, language),
                        callback_data=f"{CALLBACK_PREFIX}:{key}:{c.n}",
                    )
                ]
                for c in answer.citations
            ]
        )

    # -- buttons

    async def show_passage(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A citation button: show its passage in the message under the answer (sent on the
        first press, edited on presses of other buttons, left alone on repeated presses)."""
        query = update.callback_query
        if query is None or not await self._admit(update):
            return
        parsed = _parse_callback(query.data)
        if parsed is None:
            await query.answer(fmt.plain_text("bad_source", _user_language(update)))
            return
        key, n = parsed
        shown = self.answers.get(key)
        answer_message = query.message if isinstance(query.message, Message) else None
        if shown is None or answer_message is None or shown.chat_id != answer_message.chat_id:
            await query.answer(fmt.plain_text("expired", _user_language(update)))
            return
        if n not in shown.citations:
            await query.answer(fmt.plain_text("bad_source", _user_language(update)))
            return
        try:
            async with shown.lock:
                if shown.shown != n:
                    await self._show_passage(context.bot, shown, n, answer_message)
        finally:
            await query.answer()

    async def _show_passage(
        self, bot: Bot, shown: ShownAnswer, n: int, answer_message: Message
    ) -> None:
        passage = fmt.format_passage(shown.citations[n], shown.language)
        if shown.passage_message_id is not None:
            try:
                await bot.edit_message_text(
                    passage, chat_id=shown.chat_id, message_id=shown.passage_message_id
                )
                shown.shown = n
                return
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    shown.shown = n
                    return
                logger.debug("sending the passage anew (%s)", exc.message)
        sent = await answer_message.reply_text(passage, do_quote=True)
        shown.passage_message_id, shown.shown = sent.message_id, n

    async def sources_page(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A page button under `/sources`: show that page in the same message."""
        query = update.callback_query
        if query is None or not await self._admit(update):
            return
        language = _user_language(update)
        page = _parse_page(query.data)
        listing = query.message if isinstance(query.message, Message) else None
        articles = await self.run_engine(self.engine.articles) if page and listing else []
        if page is None or listing is None or page > fmt.article_pages(len(articles)):
            await query.answer(fmt.plain_text("page_gone", language))
            return
        text, keyboard = self._sources_page(articles, page, language)
        try:
            await listing.edit_text(text, reply_markup=keyboard)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():  # else, the page shown already
                logger.info("could not turn a page of /sources: %s", exc.message)
                await query.answer(fmt.plain_text("page_gone", language))
                return
        await query.answer()

    async def unknown_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button whose data is none of ours (an older version's, or forged): say so."""
        query = update.callback_query
        if query is not None and await self._admit(update):
            await query.answer(fmt.plain_text("unknown_button", _user_language(update)))

    # -- errors

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the trace; tell the user, briefly, that something went wrong."""
        logger.error("error while handling a Telegram update", exc_info=context.error)
        if not isinstance(update, Update) or update.callback_query is not None:
            return
        message = update.effective_message
        if message is not None:
            with contextlib.suppress(TelegramError):
                await message.reply_text(fmt.text("error", _user_language(update)))


def handlers_of(application: NewsbotApplication) -> NewsbotHandlers:
    """The handlers object behind an application made by `build_application`."""
    handlers = application.bot_data[HANDLERS_KEY]
    assert isinstance(handlers, NewsbotHandlers)
    return handlers
