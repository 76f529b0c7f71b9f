"""Tests for the Telegram Bot API stand-in, driving a real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import html
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from . import conftest_helpers
from .conftest_helpers import AnyApplication, ApplicationThread, build_application
from .telegram_api import TelegramStandin, parse_html, utf16_length

# Re-export the shared fixtures so pytest finds them in this module.
telegram_api = conftest_helpers.telegram_api
run_application = conftest_helpers.run_application

USER = 4242
GROUP = -100777
WAIT = 5.0

RunApplication = Callable[..., ApplicationThread]

KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("👍 Useful", callback_data="vote:up"),
            InlineKeyboardButton("👎", callback_data="vote:down"),
        ]
    ]
)


def make_app(
    api: TelegramStandin,
    seen: queue.Queue[Update] | None = None,
    **build_kwargs: Any,
) -> AnyApplication:
    """A small bot: HTML echo with a keyboard, button votes, /ask, /broken, media replies."""
    app = build_application(api, **build_kwargs)

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if seen is not None:
            seen.put(update)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
        await message.reply_text(
            f"You said: <b>{html.escape(message.text)}</b>",
            parse_mode=ParseMode.HTML,
            reply_markup=KEYBOARD,
        )

    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        question = " ".join(context.args or [])
        await message.reply_text(f"<i>Searching:</i> {html.escape(question)}", parse_mode="HTML")

    async def broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        await message.reply_text("<b>unclosed bold", parse_mode=ParseMode.HTML)

    async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        await query.answer(text=f"Thanks for voting {query.data}")
        await query.edit_message_text(
            f"{html.escape(query.message.text or '')}\n<i>voted {query.data}</i>",
            parse_mode=ParseMode.HTML,
        )

    async def voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.voice is not None
        file = await message.voice.get_file()
        data = await file.download_as_bytearray()
        seconds = message.voice.to_dict()["duration"]  # the attribute warns in PTB 22.x
        await message.reply_text(f"voice {seconds}s, {len(data)} bytes")

    async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.photo
        biggest = message.photo[-1]
        await message.reply_text(f"photo {biggest.width}x{biggest.height}: {message.caption}")

    async def sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.sticker is not None
        await message.reply_text(f"sticker {message.sticker.emoji}")

    app.add_handler(TypeHandler(Update, record), group=-1)
    app.add_handler(CommandHandler("ask", ask))
    app.add_handler(CommandHandler("broken", broken))
    app.add_handler(CallbackQueryHandler(vote, pattern=r"^vote:"))
    app.add_handler(MessageHandler(filters.VOICE, voice))
    app.add_handler(MessageHandler(filters.PHOTO, photo))
    app.add_handler(MessageHandler(filters.Sticker.ALL, sticker))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


# ------------------------------------------------------------------------ end-to-end with PTB


def test_private_message_gets_html_reply_with_keyboard(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    api = telegram_api
    runner = run_application(make_app(api))
    assert runner.application.bot.username == api.bot_username

    api.send_user_message(USER, USER, "hi <3 & bye", first_name="Amira", language_code="ar")

    [reply] = api.wait_for_messages(USER, count=1, timeout=WAIT)
    assert reply["text"] == "You said: hi <3 & bye"
    assert reply["entities"] == [{"offset": 10, "length": 11, "type": "bold"}]
    assert reply["from"]["id"] == api.bot_id and reply["from"]["is_bot"] is True
    assert reply["chat"] == {"id": USER, "type": "private", "first_name": "Amira"}
    assert isinstance(reply["date"], int) and abs(reply["date"] - time.time()) < 60
    buttons = reply["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["vote:up", "vote:down"]
    assert "reply_to_message" not in reply  # PTB does not quote in private chats by default
    assert api.chat_actions(USER) == ["typing"]
    api.wait_until_updates_consumed(timeout=WAIT)

    # PTB sent form-encoded requests; nothing it sent contains the token.
    [send] = api.requests("sendMessage")
    assert send.ok and send.content_type == "application/x-www-form-urlencoded"
    assert isinstance(send.params["reply_markup"], str)  # nested objects arrive JSON-encoded
    for request in api.requests_log:
        assert request.token_valid
        assert api.token not in json.dumps(dict(request.params), default=repr)
    assert api.internal_errors == []


def test_invalid_html_is_rejected_with_bad_request(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    api = telegram_api
    runner = run_application(make_app(api))
    bot = runner.application.bot
    api.send_user_message(USER, USER, "/broken")

    [error] = runner.wait_for_error(count=1, timeout=WAIT)
    assert isinstance(error, BadRequest)
    # PTB strips "Bad Request: " and applies str.capitalize(), which lower-cases the rest.
    assert error.message.lower() == (
        "can't parse entities: can't find end tag corresponding to start tag \"b\""
    )

    cases = {
        "<div>x</div>": 'Unsupported start tag "div" at byte offset 0',
        "<b>x</i>": 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        "1 < 2": 'Unsupported start tag "" at byte offset 2',
        "<span>x</span>": 'Tag "span" must have class "tg-spoiler"',
        "x</b>": "Unexpected end tag at byte offset 1",
        "<br/>": 'Unsupported start tag "br/"',
    }
    for text, expected in cases.items():
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as excinfo:
            runner.run(bot.send_message(USER, text, parse_mode=ParseMode.HTML))
        assert expected.lower() in excinfo.value.message.lower(), text

    # Valid HTML with every allowed construct goes through, decoded.
    ok = runner.run(
        bot.send_message(
            USER,
            "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
            '<strike>k</strike><del>d</del><a href="https://example.org/?a=1&amp;b=2">a</a>'
            '<code>c</code><pre><code class="language-python">p</code></pre>'
            '<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>'
            '<blockquote>q</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
            " &lt;&gt;&amp;&quot;&#39;&#x41;",
            parse_mode=ParseMode.HTML,
        )
    )
    assert ok.text == "bsieunskdacpxyq👍 <>&\"'A"
    types = [e.type for e in ok.entities]
    assert types.count("bold") == 2 and "text_link" in types and "custom_emoji" in types
    [pre] = [e for e in ok.entities if e.type == "pre"]
    assert pre.language == "python"
    # Empty texts are rejected too (also when only tags/whitespace remain).
    for empty in ("<b></b>", "   \n"):
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            runner.run(bot.send_message(USER, empty, parse_mode=ParseMode.HTML))


def test_message_length_is_counted_in_utf16_units_after_parsing(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    api = telegram_api
    runner = run_application(make_app(api))
    bot = runner.application.bot
    api.send_user_message(USER, USER, "hello")  # the chat must exist, as on Telegram
    api.wait_for_messages(USER, count=1, timeout=WAIT)

    def send(text: str, parse_mode: str | None = None) -> Message:
        message: Message = runner.run(bot.send_message(USER, text, parse_mode=parse_mode))
        return message

    assert send("a" * 4096).text == "a" * 4096
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        send("a" * 4097)
    emoji = "😀"  # astral: 2 UTF-16 code units, 1 code point
    assert utf16_length(emoji * 2048) == 4096
    assert send(emoji * 2048).text == emoji * 2048
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        send(emoji * 2049)  # only 2049 code points, but 4098 UTF-16 units
    # Tags and entities do not count; decoded characters do.
    assert len(send("<b>" + "a" * 4096 + "</b>", ParseMode.HTML).text or "") == 4096
    assert send("&amp;" * 4096, ParseMode.HTML).text == "&" * 4096
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        send("<i>" + "&lt;" * 4097 + "</i>", ParseMode.HTML)


def test_button_press_is_answered_and_message_edited(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    api = telegram_api
    seen: queue.Queue[Update] = queue.Queue()
    runner = run_application(make_app(api, seen))
    api.send_user_message(USER, USER, "what happened today?")
    [reply] = api.wait_for_messages(USER, count=1, timeout=WAIT)
    seen.get(timeout=WAIT)  # the text message

    with pytest.raises(AssertionError, match="no button with callback_data 'vote:maybe'"):
        api.press_button(USER, USER, reply["message_id"], "vote:maybe")

    query_id = api.press_button(USER, USER, reply["message_id"], "vote:up")
    answer = api.wait_for_callback_answer(query_id, timeout=WAIT)
    assert answer["text"] == "Thanks for voting vote:up"
    assert answer["show_alert"] is False

    [edited] = api.wait_for_edits(USER, count=1, timeout=WAIT)
    assert edited["message_id"] == reply["message_id"]
    assert edited["text"] == "You said: what happened today?\nvoted vote:up"
    assert "edit_date" in edited
    assert "reply_markup" not in edited  # editMessageText without reply_markup drops it
    assert api.sent_messages(USER)[0]["text"] == edited["text"]  # current state
    with pytest.raises(AssertionError, match="no button"):
        api.press_button(USER, USER, reply["message_id"], "vote:up")  # keyboard is gone

    # The callback query as PTB parsed it.
    query = seen.get(timeout=WAIT).callback_query
    assert query is not None and query.id == query_id and query.chat_instance
    assert query.data == "vote:up" and query.from_user.id == USER
    assert isinstance(query.message, Message) and query.message.message_id == reply["message_id"]
    # Telegram refuses a no-op edit and a second answer to the same query.
    bot = runner.application.bot
    same_html = "You said: what happened today?\n<i>voted vote:up</i>"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        runner.run(bot.edit_message_text(same_html, USER, reply["message_id"], parse_mode="HTML"))
    # Same text without the italic entity *is* a modification.
    plain = runner.run(bot.edit_message_text(edited["text"], USER, reply["message_id"]))
    assert isinstance(plain, Message) and plain.entities == ()
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        runner.run(bot.answer_callback_query(query_id))
    api.wait_until_updates_consumed(timeout=WAIT)


def test_twenty_updates_posted_at_once_are_all_consumed(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    api = telegram_api
    seen: queue.Queue[Update] = queue.Queue()
    chats = [USER, USER + 1, USER + 2, USER + 3]
    # Half are queued before the bot starts polling, half while it runs.
    update_ids = [api.send_user_message(c, c, f"q{i}") for i, c in enumerate(chats * 2)]
    run_application(make_app(api, seen))
    update_ids += [api.send_user_message(c, c, f"q{i}") for i, c in enumerate(chats * 3, 8)]
    assert len(update_ids) == 20 and len(set(update_ids)) == 20

    for chat in chats:
        replies = api.wait_for_messages(chat, count=5, timeout=WAIT)
        expected = [f"You said: q{i}" for i in range(20) if chats[i % 4] == chat]
        assert [r["text"] for r in replies] == expected
    api.wait_until_updates_consumed(timeout=WAIT)
    assert api.pending_update_count == 0
    processed = sorted(seen.get(timeout=WAIT).update_id for _ in range(20))
    assert processed == sorted(update_ids)
    assert seen.empty()


def test_group_messages_are_parsed_by_ptb(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    api = telegram_api
    seen: queue.Queue[Update] = queue.Queue()
    run_application(make_app(api, seen))

    command = f"/ask@{api.bot_username} what about @someone_else?"
    update_id = api.send_user_message(
        GROUP,
        USER,
        command,
        chat_type="group",
        chat_title="Newsroom",
        first_name="Karim",
        username="karim_b",
        language_code="fr",
    )
    update = seen.get(timeout=WAIT)
    assert update.update_id == update_id
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    assert update.effective_chat.type == ChatType.GROUP
    assert update.effective_chat.title == "Newsroom"
    assert update.effective_user is not None
    assert update.effective_user.username == "karim_b"
    assert update.effective_user.language_code == "fr"
    assert update.effective_user.is_bot is False
    bot_command, mention = message.entities
    assert bot_command.type == MessageEntity.BOT_COMMAND and bot_command.offset == 0
    assert message.parse_entity(bot_command) == f"/ask@{api.bot_username}"
    assert mention.type == MessageEntity.MENTION
    assert message.parse_entity(mention) == "@someone_else"

    [reply] = api.wait_for_messages(GROUP, count=1, timeout=WAIT)
    assert reply["chat"] == {"id": GROUP, "type": "group", "title": "Newsroom"}
    assert reply["text"] == "Searching: what about @someone_else?"
    assert reply["entities"] == [{"offset": 0, "length": 10, "type": "italic"}]
    # PTB quotes the triggering message in groups by default.
    assert reply["reply_to_message"]["message_id"] == message.message_id

    # Entity offsets are UTF-16 based, like Telegram's.
    api.send_user_message(GROUP, USER + 1, f"😀 @{api.bot_username} hi", chat_type="group")
    emoji_update = seen.get(timeout=WAIT)
    assert emoji_update.effective_message is not None
    [entity] = emoji_update.effective_message.entities
    assert entity.offset == 3
    assert emoji_update.effective_message.parse_entity(entity) == f"@{api.bot_username}"


def test_non_text_messages_and_file_download(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    api = telegram_api
    run_application(make_app(api))
    api.send_user_voice(USER, USER, duration=7, data=b"OggS" + b"\x00" * 96)
    assert api.wait_for_messages(USER, 1, WAIT)[-1]["text"] == "voice 7s, 100 bytes"
    api.send_user_photo(USER, USER, caption="chart?", width=800, height=600)
    assert api.wait_for_messages(USER, 2, WAIT)[-1]["text"] == "photo 800x600: chart?"
    api.send_user_sticker(USER, USER, emoji="🔥")
    assert api.wait_for_messages(USER, 3, WAIT)[-1]["text"] == "sticker 🔥"
    assert api.requests("getFile")[0].ok


def test_bot_uploads_photo_and_document_multipart(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    import struct
    import zlib

    api = telegram_api
    runner = run_application(make_app(api))
    bot = runner.application.bot
    api.send_user_message(USER, USER, "chart please")
    api.wait_for_messages(USER, 1, WAIT)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 640, 480, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )
    photo = runner.run(
        bot.send_photo(USER, png, caption="<b>Chart</b> &amp; notes", parse_mode="HTML")
    )
    assert (photo.photo[-1].width, photo.photo[-1].height) == (640, 480)
    assert photo.caption == "Chart & notes" and photo.caption_entities[0].type == "bold"
    [upload] = api.requests("sendPhoto")
    assert upload.content_type == "multipart/form-data"
    file = runner.run(bot.get_file(photo.photo[-1].file_id))
    assert bytes(runner.run(file.download_as_bytearray())) == png
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        runner.run(bot.send_photo(USER, photo.photo[-1].file_id, caption="x" * 1025))

    document = runner.run(bot.send_document(USER, b"a,b\n1,2\n", filename="data.csv"))
    assert document.document.file_name == "data.csv" and document.document.file_size == 8


def test_bot_commands_and_misc_methods(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    from telegram import BotCommand, BotCommandScopeAllPrivateChats

    api = telegram_api
    runner = run_application(make_app(api))
    bot = runner.application.bot
    commands = [BotCommand("ask", "Ask a question"), BotCommand("help", "Help")]
    assert runner.run(bot.set_my_commands(commands)) is True
    assert runner.run(bot.get_my_commands()) == tuple(commands)
    scope = BotCommandScopeAllPrivateChats()
    runner.run(bot.set_my_commands(commands[:1], scope=scope, language_code="ar"))
    assert api.commands({"type": "all_private_chats"}, "ar") == [
        {"command": "ask", "description": "Ask a question"}
    ]
    assert runner.run(bot.get_my_commands(scope=scope)) == ()
    assert runner.run(bot.delete_my_commands()) is True
    assert api.commands() == []
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        runner.run(bot.set_my_commands([BotCommand("Ask", "uppercase is not allowed")]))

    api.send_user_message(USER, USER, "hello", first_name="Lina")
    api.wait_for_messages(USER, 1, WAIT)
    chat = runner.run(bot.get_chat(USER))
    assert chat.type == ChatType.PRIVATE and chat.first_name == "Lina"
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        runner.run(bot.send_message(999, "nobody here"))
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        runner.run(bot.send_chat_action(USER, "dancing"))
    assert runner.run(bot.delete_message(USER, api.sent_messages(USER)[0]["message_id"]))
    assert api.deleted_messages(USER) == [api.sent_messages(USER)[0]["message_id"]]


# PTB 22.8's RetryAfter.__init__ itself reads the deprecated int-valued `retry_after`.
@pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
def test_flood_control_with_ptb_rate_limiter(
    telegram_api: TelegramStandin, run_application: RunApplication
) -> None:
    api = telegram_api
    runner = run_application(make_app(api, rate_limiter=AIORateLimiter(max_retries=2)))
    api.inject_flood_errors(1, retry_after=1, chat_id=USER)

    api.send_user_message(USER, USER, "slow down")
    [reply] = api.wait_for_messages(USER, count=1, timeout=WAIT)
    assert reply["text"] == "You said: slow down"
    assert [r.status for r in api.requests("sendMessage")] == [429, 200]
    assert api.flood_rejections == [("sendMessage", USER)]
    assert runner.errors == []

    # A per-chat limit: the third message within the window is refused.
    api.set_flood_limit(2, per_seconds=60, retry_after=3)
    bot = runner.application.bot
    plain = Bot(api.token, base_url=api.base_url)  # no rate limiter: RetryAfter surfaces

    async def burst() -> None:
        async with plain:
            await plain.send_message(USER, "1")
            await plain.send_message(USER, "2")
            await plain.send_message(USER, "3")

    with pytest.raises(RetryAfter, match=r"(?i)Retry in 3"):
        runner.run(burst())
    api.set_flood_limit(None)
    assert runner.run(bot.send_message(USER, "ok again")).text == "ok again"


# ------------------------------------------------------------------------ protocol details


def _http(
    url: str, data: bytes | None = None, content_type: str | None = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=data)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_raw_protocol_errors_and_json_bodies(telegram_api: TelegramStandin) -> None:
    api = telegram_api
    root = f"{api.base_url}{api.token}"
    assert _http(f"{root}/noSuchMethod") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert _http(f"{api.base_url}123:wrong/getMe") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    status, body = _http(f"{root}/GETME")  # method names are case-insensitive
    assert status == 200 and body["result"]["is_bot"] is True
    assert body["result"]["can_join_groups"] is True

    _http(f"{root}/getUpdates?offset=-1")  # nothing queued; harmless
    api.send_user_message(USER, USER, "hi")
    status, body = _http(f"{root}/getUpdates")
    _http(f"{root}/getUpdates?offset={body['result'][-1]['update_id'] + 1}")
    assert api.pending_update_count == 0
    payload = {
        "chat_id": USER,
        "text": "<b>json</b>",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "y" * 65}]]},
    }
    status, body = _http(f"{root}/sendMessage", json.dumps(payload).encode(), "application/json")
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    payload["reply_markup"] = {"inline_keyboard": [[{"text": "x", "callback_data": "y"}]]}
    status, body = _http(f"{root}/sendMessage", json.dumps(payload).encode(), "application/json")
    assert status == 200 and body["result"]["text"] == "json"

    # getUpdates: offset confirms, limit limits, negative offset keeps the newest.
    for i in range(3):
        api.send_user_message(USER, USER, f"m{i}")
    status, body = _http(f"{root}/getUpdates?limit=2")
    ids = [u["update_id"] for u in body["result"]]
    assert len(ids) == 2
    status, body = _http(f"{root}/getUpdates?offset={ids[1] + 1}")
    assert [u["message"]["text"] for u in body["result"]] == ["m2"]
    assert api.pending_update_count == 1
    _http(f"{root}/getUpdates?offset={body['result'][0]['update_id'] + 1}")
    api.wait_until_updates_consumed(timeout=0.1)

    # Invalid token via PTB: InvalidToken.
    async def get_me_with_wrong_token() -> None:
        async with Bot("1:not-the-token", base_url=api.base_url) as bad_bot:  # initialize: getMe
            await bad_bot.get_me()

    with pytest.raises(InvalidToken):
        asyncio.run(get_me_with_wrong_token())


def test_long_poll_wakes_on_update_and_stop_does_not_hang() -> None:
    api = TelegramStandin()
    api.start()
    root = f"{api.base_url}{api.token}"
    results: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()

    def poll(offset: int = 0) -> None:
        started = time.monotonic()
        _, body = _http(f"{root}/getUpdates?timeout=30&offset={offset}")
        results.put((time.monotonic() - started, body))

    threading.Thread(target=poll, daemon=True).start()
    api.wait_for_long_poll(timeout=WAIT)
    api.send_user_message(USER, USER, "wake up")
    elapsed, body = results.get(timeout=WAIT)
    assert elapsed < 3 and body["result"][0]["message"]["text"] == "wake up"

    # A long poll in progress (confirming the first update) must not block stop().
    next_offset = body["result"][0]["update_id"] + 1
    threading.Thread(target=poll, args=(next_offset,), daemon=True).start()
    api.wait_for_long_poll(timeout=WAIT)
    started = time.monotonic()
    api.stop()
    assert time.monotonic() - started < 3
    elapsed, body = results.get(timeout=WAIT)
    assert body == {"ok": True, "result": []} and elapsed < 3
    api.stop()  # idempotent


def test_application_with_long_poll_timeout_stops_quickly(
    telegram_api: TelegramStandin,
) -> None:
    runner = ApplicationThread(make_app(telegram_api), poll_timeout=30)
    runner.start()
    telegram_api.wait_for_long_poll(timeout=WAIT)
    started = time.monotonic()
    runner.stop()
    assert time.monotonic() - started < 5


def test_wait_timeout_reports_what_arrived(telegram_api: TelegramStandin) -> None:
    telegram_api.send_user_message(USER, USER, "anyone?")
    with pytest.raises(AssertionError) as excinfo:
        telegram_api.wait_for_messages(USER, count=1, timeout=0.05)
    text = str(excinfo.value)
    assert "Timed out after 0.05s waiting for 1 bot message(s) in chat 4242" in text
    assert "never fetched by getUpdates" in text


def test_parse_html_unit() -> None:
    parsed = parse_html("  <b>a&nbsp;b</b> x & y > z ")
    # Unknown named entities and bare & / > stay literal, as on Telegram.
    assert parsed.text == "  a&nbsp;b x & y > z "
    assert parsed.entities == [{"offset": 2, "length": 8, "type": "bold"}]


def test_set_webhook_is_validated_and_blocks_polling(telegram_api: TelegramStandin) -> None:
    api = telegram_api
    root = f"{api.base_url}{api.token}"

    def set_webhook(**params: Any) -> tuple[int, dict[str, Any]]:
        return _http(f"{root}/setWebhook", json.dumps(params).encode(), "application/json")

    assert set_webhook(url="http://bot.example.org/hook")[1]["description"] == (
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    )
    assert "ports 80, 88, 443 or 8443" in set_webhook(url="https://x.org:8080/h")[1]["description"]
    assert (
        "unallowed characters"
        in set_webhook(url="https://x.org/h", secret_token="a b")[1]["description"]
    )
    assert api.webhook is None
    assert set_webhook(url="https://x.org:8443/h", secret_token="s_1", allowed_updates=["message"])
    assert api.webhook == {
        "url": "https://x.org:8443/h",
        "secret_token": "s_1",
        "allowed_updates": ["message"],
        "max_connections": 40,
    }
    assert _http(f"{root}/getWebhookInfo")[1]["result"]["url"] == "https://x.org:8443/h"
    status, body = _http(f"{root}/getUpdates")
    assert status == 409 and body["description"].startswith("Conflict: can't use getUpdates")
    assert _http(f"{root}/deleteWebhook")[1]["result"] is True
    assert api.webhook is None and _http(f"{root}/getUpdates")[0] == 200
