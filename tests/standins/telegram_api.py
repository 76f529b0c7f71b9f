"""A stand-in for the Telegram Bot API, for tests.

:class:`TelegramStandin` is a small aiohttp server that speaks enough of the Bot API
(https://core.telegram.org/bots/api) for a python-telegram-bot (PTB) ``Application`` to run
against it over real HTTP, plus a thread-safe Python control API that plays the *user's* side:
inject messages and button presses, then wait for what the bot sent back.

The server runs in a background thread with its own event loop and listens on
``127.0.0.1`` on a free port, so synchronous pytest tests, PTB applications running in another
thread, or a bot in a subprocess can all use it::

    with TelegramStandin() as api:
        app = (
            Application.builder()
            .token(api.token)
            .base_url(api.base_url)            # "http://127.0.0.1:PORT/bot"; PTB appends the token
            .base_file_url(api.base_file_url)  # "http://127.0.0.1:PORT/file/bot"
            .build()
        )
        ...  # run the application (see tests/standins/conftest_helpers.py)
        api.send_user_message(chat_id=42, user_id=42, text="hello")
        [reply] = api.wait_for_messages(chat_id=42, count=1, timeout=5)

Behaviour copied from the real service (so that bugs show up here rather than in production):

* method names are case-insensitive; a wrong token gives ``401 Unauthorized``; an unknown method
  gives ``404 Not Found``;
* parameters may arrive as a JSON body, as a query string, as
  ``application/x-www-form-urlencoded`` or as ``multipart/form-data`` (what PTB sends; nested
  objects such as ``reply_markup`` then arrive as JSON-encoded strings);
* ``parse_mode=HTML`` is parsed the way Telegram's parser (tdlib ``parse_html``) does it: only the
  supported tags, proper nesting, the named entities ``&lt; &gt; &amp; &quot;`` plus numeric ones
  (an unknown ``&name;`` stays literal text, as on Telegram); errors are
  ``400 Bad Request: can't parse entities: ...`` with Telegram's wording;
* texts are trimmed of leading/trailing whitespace, must not be empty, and are limited to 4096
  UTF-16 code units (captions: 1024) *after* entity parsing, so astral characters (most emoji)
  count twice;
* ``editMessageText`` without ``reply_markup`` removes the inline keyboard, and an edit that
  changes nothing is ``400 Bad Request: message is not modified: ...``;
* updates stay queued until confirmed by a later ``getUpdates`` call with a higher ``offset``.

``setWebhook`` is validated (HTTPS URL on port 443, 80, 88 or 8443; secret token characters) and
recorded (:attr:`TelegramStandin.webhook`), and ``getUpdates`` then fails with ``409 Conflict`` as
on Telegram, but the stand-in never posts updates to the webhook: a test posts them to the bot's
webhook server itself.

Not emulated: webhook delivery, inline mode, payments, group privacy mode (every group message is
delivered), MarkdownV2 parsing (accepted without validation), channels, media groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final

from aiohttp import web

__all__ = [
    "ALLOWED_HTML_TAGS",
    "DEFAULT_TOKEN",
    "FormattedText",
    "HTMLParseError",
    "RecordedRequest",
    "TelegramStandin",
    "UploadedFile",
    "parse_html",
    "utf16_length",
]

JSONDict = dict[str, Any]

DEFAULT_TOKEN: Final = "7000000001:AAStandinTokenForTests_0123456789ab"
"""A syntactically realistic bot token (``<bot id>:<35-character secret>``)."""

MAX_MESSAGE_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_COMMANDS: Final = 100

ALLOWED_HTML_TAGS: Final[frozenset[str]] = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "span",
        "tg-spoiler",
        "blockquote",
        "tg-emoji",
    }
)
"""The HTML tags Telegram accepts with ``parse_mode=HTML``."""

_SIMPLE_TAG_ENTITIES: Final[Mapping[str, str]] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}

_NAMED_ENTITIES: Final[Mapping[str, str]] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

CHAT_ACTIONS: Final[frozenset[str]] = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_BUTTON_ACTIONS: Final = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

# Methods subject to (simulated) flood control: everything that posts into a chat.
_FLOOD_CONTROLLED: Final[frozenset[str]] = frozenset(
    {"sendmessage", "sendphoto", "senddocument", "editmessagetext", "editmessagereplymarkup"}
)

_HTML_SPACES: Final = " \t\n\r\v\f"
_TRIM_CHARS: Final = " \t\n\r\v\f"
_COMMAND_RE: Final = re.compile(r"(?<![^\s])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@])")
_MENTION_RE: Final = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}(?![\w@])")
_URL_RE: Final = re.compile(r"https?://[^\s<>\"']+")
_BOT_COMMAND_NAME_RE: Final = re.compile(r"[a-z0-9_]{1,32}")
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------
# Text helpers: UTF-16 lengths, Telegram-flavoured HTML parsing, automatic user-side entities
# --------------------------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """Length of *text* in UTF-16 code units, the unit Telegram uses for limits and offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class HTMLParseError(ValueError):
    """A ``parse_mode=HTML`` text Telegram would reject; the message uses Telegram's wording."""


@dataclasses.dataclass(frozen=True)
class FormattedText:
    """Plain text plus Bot API ``MessageEntity`` dicts (offsets/lengths in UTF-16 units)."""

    text: str
    entities: list[JSONDict]


@dataclasses.dataclass
class _OpenTag:
    name: str
    argument: str
    begin_utf16: int


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


def _decode_html_entity(source: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference starting at ``source[pos] == "&"`` like tdlib does.

    Returns the decoded character and the index after the reference, or ``None`` if there is no
    valid reference (the ``&`` is then literal text). The trailing ``;`` is optional.
    """
    n = len(source)
    end = pos + 1
    if end < n and source[end] == "#":
        end += 1
        base, digits = 10, "0123456789"
        if end < n and source[end] == "x":
            end += 1
            base, digits = 16, "0123456789abcdefABCDEF"
        start = end
        while end < n and source[end] in digits:
            end += 1
        if end == start or end - pos >= 10:
            return None
        code = int(source[start:end], base)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        start = end
        while end < n and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(source[start:end])
        if named is None:
            return None
        char = named
    if end < n and source[end] == ";":
        end += 1
    return char, end


def _close_entity(tag: _OpenTag, end_utf16: int, entities: list[JSONDict]) -> None:
    """Turn a closed tag into a MessageEntity (Telegram drops empty ones)."""
    length = end_utf16 - tag.begin_utf16
    if length <= 0:
        return
    entity: JSONDict = {"offset": tag.begin_utf16, "length": length}
    if tag.name in _SIMPLE_TAG_ENTITIES:
        entity["type"] = _SIMPLE_TAG_ENTITIES[tag.name]
    elif tag.name == "a":
        if not tag.argument:
            return
        entity.update(type="text_link", url=tag.argument)
    elif tag.name == "code":
        entity["type"] = "code"
        if tag.argument:
            entity["_language"] = tag.argument
    elif tag.name == "pre":
        entity["type"] = "pre"
        for index, inner in enumerate(entities):
            if (
                inner.get("type") == "code"
                and inner["offset"] == entity["offset"]
                and inner["length"] == entity["length"]
                and "_language" in inner
            ):
                entity["language"] = inner["_language"]
                del entities[index]
                break
    elif tag.name == "blockquote":
        entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
    elif tag.name == "tg-emoji":
        if not tag.argument:
            return
        entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
    entities.append(entity)


def parse_html(source: str) -> FormattedText:
    """Parse a ``parse_mode=HTML`` text the way Telegram does.

    Raises:
        HTMLParseError: with Telegram's description (without the ``Bad Request: can't parse
            entities:`` prefix), e.g. ``Unsupported start tag "div" at byte offset 0``.
    """
    out: list[str] = []
    utf16_pos = 0
    stack: list[_OpenTag] = []
    entities: list[JSONDict] = []
    n = len(source)
    i = 0

    def emit(chunk: str) -> None:
        nonlocal utf16_pos
        out.append(chunk)
        utf16_pos += utf16_length(chunk)

    def unclosed_start(begin: int) -> HTMLParseError:
        return HTMLParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")

    while i < n:
        char = source[i]
        if char == "&":
            decoded = _decode_html_entity(source, i)
            if decoded is not None:
                emit(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            emit(char)
            i += 1
            continue

        begin = i
        i += 1
        if i < n and source[i] == "/":
            # End tag.
            if not stack:
                raise HTMLParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            close = source.find(">", i + 1)
            if close == -1:
                raise HTMLParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, begin)}"
                )
            end_name = source[i + 1 : close].strip(_HTML_SPACES).lower()
            open_tag = stack[-1]
            if end_name and end_name != open_tag.name:
                raise HTMLParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{open_tag.name}>", found "</{end_name}>"'
                )
            stack.pop()
            i = close + 1
            _close_entity(open_tag, utf16_pos, entities)
            continue

        # Start tag.
        name_end = i
        while name_end < n and source[name_end] not in _HTML_SPACES and source[name_end] != ">":
            name_end += 1
        name = source[i:name_end].lower()
        if name not in ALLOWED_HTML_TAGS:
            raise HTMLParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        i = name_end
        argument = ""
        while True:
            while i < n and source[i] in _HTML_SPACES:
                i += 1
            if i >= n:
                raise unclosed_start(begin)
            if source[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and source[i] not in _HTML_SPACES and source[i] not in "=>":
                i += 1
            attr = source[attr_start:i].lower()
            if not attr:
                raise HTMLParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{_byte_offset(source, begin)}"
                )
            while i < n and source[i] in _HTML_SPACES:
                i += 1
            if i >= n:
                raise unclosed_start(begin)
            if source[i] != "=":
                if name == "blockquote" and attr == "expandable":
                    argument = "expandable"
                    continue
                raise HTMLParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" at '
                    f"byte offset {_byte_offset(source, begin)}"
                )
            i += 1
            while i < n and source[i] in _HTML_SPACES:
                i += 1
            if i >= n:
                raise unclosed_start(begin)
            if source[i] in "\"'":
                quote = source[i]
                i += 1
                value_chars: list[str] = []
                while i < n and source[i] != quote:
                    if source[i] == "&":
                        decoded = _decode_html_entity(source, i)
                        if decoded is not None:
                            value_chars.append(decoded[0])
                            i = decoded[1]
                            continue
                    value_chars.append(source[i])
                    i += 1
                if i >= n:
                    raise unclosed_start(begin)
                i += 1
                value = "".join(value_chars)
            else:
                token_start = i
                while i < n and (
                    (source[i].isascii() and source[i].isalnum()) or source[i] in ".-"
                ):
                    i += 1
                value = source[token_start:i].lower()
                if i >= n:
                    raise unclosed_start(begin)
                if source[i] not in _HTML_SPACES and source[i] != ">":
                    raise HTMLParseError(
                        "Unexpected end of name token at byte offset "
                        f"{_byte_offset(source, token_start)}"
                    )
            if name == "a" and attr == "href":
                argument = value
            elif name == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif (name == "tg-emoji" and attr == "emoji-id") or (
                name == "blockquote" and attr == "expandable"
            ):
                argument = value or "expandable"
        if name == "span" and argument != "spoiler":
            raise HTMLParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        stack.append(_OpenTag(name=name, argument=argument, begin_utf16=utf16_pos))

    if stack:
        raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return FormattedText(text="".join(out), entities=entities)


def _trim(formatted: FormattedText) -> FormattedText:
    """Strip leading/trailing whitespace like Telegram does, clipping entities to the rest."""
    text = formatted.text
    left_stripped = text.lstrip(_TRIM_CHARS)
    lead = utf16_length(text[: len(text) - len(left_stripped)])
    body = left_stripped.rstrip(_TRIM_CHARS)
    body_length = utf16_length(body)
    entities: list[JSONDict] = []
    for entity in formatted.entities:
        start = max(int(entity["offset"]) - lead, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - lead, body_length)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return FormattedText(text=body, entities=entities)


def _auto_entities(text: str) -> list[JSONDict]:
    """The entities Telegram adds to a user's plain text: bot commands, @mentions and URLs."""
    spans: list[tuple[int, int, str]] = []

    def add(start: int, end: int, entity_type: str) -> None:
        if end > start and not any(start < e and s < end for s, e, _ in spans):
            spans.append((start, end, entity_type))

    for match in _COMMAND_RE.finditer(text):
        add(*match.span(), "bot_command")
    for match in _URL_RE.finditer(text):
        add(match.start(), match.start() + len(match[0].rstrip(".,;:!?)")), "url")
    for match in _MENTION_RE.finditer(text):
        add(*match.span(), "mention")
    spans.sort()
    return [
        {
            "type": kind,
            "offset": utf16_length(text[:start]),
            "length": utf16_length(text[start:end]),
        }
        for start, end, kind in spans
    ]


# --------------------------------------------------------------------------------------------
# Request plumbing
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UploadedFile:
    """A file the bot uploaded in a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes = dataclasses.field(repr=False)

    def __repr__(self) -> str:
        return f"UploadedFile(filename={self.filename!r}, {len(self.data)} bytes)"


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One Bot API request as the stand-in saw it (the token is deliberately not recorded)."""

    method: str
    """The method name as sent, e.g. ``"sendMessage"``."""
    params: Mapping[str, Any]
    """Decoded parameters: strings as sent (form fields are strings; JSON-in-form fields such as
    ``reply_markup`` are left as the JSON string), uploads as :class:`UploadedFile`."""
    status: int
    """HTTP status of the reply (200, 400, 401, 404, 429, ...)."""
    description: str | None
    """Error description for failed requests, ``None`` on success."""
    token_valid: bool
    http_method: str
    content_type: str
    timestamp: float

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.status == 200


class _ApiError(Exception):
    """An error reply, serialised the way the Bot API does it."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


class _Params:
    """Typed access to request parameters that may be strings (form) or JSON values."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)

    def present(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise _bad(f"{name} is empty")
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise _bad(f"field {name!r} must be of type String")

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                raise _bad(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise _bad(f"invalid {name} specified")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _bad(f"invalid {name} specified")

    def number(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _bad(f"invalid {name} specified")

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str):
            return value.strip().lower() in {"true", "1", "yes", "on"}
        raise _bad(f"invalid {name} specified")

    def json_value(self, name: str) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {name} JSON object") from None
        return value

    def chat_id(self, *, required: bool = True) -> int | str | None:
        value = self.raw.get("chat_id")
        if value is None or value == "":
            if required:
                raise _bad("chat_id is empty")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("@"):
                return stripped
            try:
                return int(stripped)
            except ValueError:
                pass
        raise _bad("chat not found")


@dataclasses.dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes | None
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int | None:
        return None if self.data is None else len(self.data)


@dataclasses.dataclass
class _CallbackQuery:
    query_id: str
    chat_id: int
    message_id: int
    user_id: int
    data: str
    answer: JSONDict | None = None


# --------------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------------


class TelegramStandin:
    """A Telegram Bot API server for tests, running in a background thread.

    Use it as a context manager (``with TelegramStandin() as api: ...``) or call
    :meth:`start` / :meth:`stop`. All public methods are thread-safe and synchronous; the
    ``wait_*`` methods block on a condition variable (never sleep-poll) and raise
    :class:`AssertionError` with diagnostics when their timeout expires.

    Args:
        token: The bot token the server accepts; any other token gets ``401 Unauthorized``.
        bot_username: ``username`` of the bot returned by ``getMe``.
        bot_first_name: ``first_name`` of the bot.
        flood_limit: Simulated flood control: at most this many messages per chat within
            ``flood_window`` seconds, after which sending methods reply ``429`` with
            ``parameters.retry_after = flood_retry_after``. ``None`` (default) disables it.
        flood_window: Window length in seconds for ``flood_limit``.
        flood_retry_after: ``retry_after`` value (whole seconds) for simulated 429 replies.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "newsbot_test_bot",
        bot_first_name: str = "NewsBot",
        flood_limit: int | None = None,
        flood_window: float = 1.0,
        flood_retry_after: int = 1,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        self._token = token
        prefix = token.split(":", 1)[0]
        self._bot_id = int(prefix) if prefix.isdigit() else 7000000001
        self._bot_user: JSONDict = {
            "id": self._bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        # All state below is guarded by this condition's (reentrant) lock.
        self._cond = threading.Condition(threading.RLock())
        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, JSONDict] = {}
        self._next_message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._sent: dict[int, list[JSONDict]] = {}
        self._edits: dict[int, list[JSONDict]] = {}
        self._deleted: dict[int, list[int]] = {}
        self._chat_actions: dict[int, list[str]] = {}
        self._callbacks: dict[str, _CallbackQuery] = {}
        self._updates: deque[JSONDict] = deque()
        self._update_history: dict[int, JSONDict] = {}
        self._delivered_update_ids: set[int] = set()
        self._allowed_updates: list[str] | None = None
        self._webhook: JSONDict | None = None
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._files: dict[str, _StoredFile] = {}
        self._requests: list[RecordedRequest] = []
        self._internal_errors: list[str] = []
        self._flood_limit = flood_limit
        self._flood_window = flood_window
        self._flood_retry_after = flood_retry_after
        self._flood_times: dict[int | str, deque[float]] = {}
        self._injected_floods: deque[tuple[int | None, int]] = deque()
        self._flood_rejections: list[tuple[str, int | str]] = []
        self._update_ids = itertools.count(100_000_001)
        self._callback_ids = itertools.count(4_281_912_000_000_000_001)
        self._file_counter = itertools.count(1)

        # Server/loop plumbing; _pollers and _closing are only touched on the loop thread.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._pollers: set[asyncio.Future[None]] = set()
        self._waiting_polls = 0  # guarded by _cond
        self._closing = False
        self._started = threading.Event()
        self._stopped = False
        self._startup_error: BaseException | None = None

        self._methods: dict[str, Callable[[_Params], Any]] = {
            "getme": self._api_get_me,
            "deletewebhook": self._api_delete_webhook,
            "setwebhook": self._api_set_webhook,
            "getwebhookinfo": self._api_get_webhook_info,
            "setmycommands": self._api_set_my_commands,
            "getmycommands": self._api_get_my_commands,
            "deletemycommands": self._api_delete_my_commands,
            "setmydescription": self._bot_text_setter("description", 512),
            "getmydescription": self._bot_text_getter("description"),
            "setmyshortdescription": self._bot_text_setter("short_description", 120),
            "getmyshortdescription": self._bot_text_getter("short_description"),
            "setmyname": self._bot_text_setter("name", 64),
            "getmyname": self._bot_text_getter("name"),
            "sendmessage": self._api_send_message,
            "editmessagetext": self._api_edit_message_text,
            "editmessagereplymarkup": self._api_edit_message_reply_markup,
            "deletemessage": self._api_delete_message,
            "sendchataction": self._api_send_chat_action,
            "answercallbackquery": self._api_answer_callback_query,
            "getchat": self._api_get_chat,
            "sendphoto": self._api_send_photo,
            "senddocument": self._api_send_document,
            "getfile": self._api_get_file,
        }

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> TelegramStandin:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> None:
        """Start the server thread and wait until it listens."""
        if self._thread is not None:
            raise RuntimeError("TelegramStandin can only be started once")
        self._thread = threading.Thread(
            target=self._thread_main, name="telegram-standin", daemon=True
        )
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f"Telegram stand-in did not start within {timeout}s")
        if self._startup_error is not None:
            self._thread.join(timeout)
            raise RuntimeError("Telegram stand-in failed to start") from self._startup_error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server. Idempotent; pending long polls are answered with no updates."""
        if self._stopped or self._thread is None:
            return
        self._stopped = True
        loop = self._loop
        if loop is not None and self._startup_error is None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                future.result(timeout)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"Telegram stand-in thread did not stop within {timeout}s")

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:
                self._startup_error = exc
                return
            finally:
                self._started.set()
            loop.run_forever()
        finally:
            try:
                pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner

    async def _shutdown(self) -> None:
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---------------------------------------------------------------- addresses

    @property
    def token(self) -> str:
        """The bot token this server accepts."""
        return self._token

    @property
    def port(self) -> int:
        """The TCP port the server listens on (only after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("TelegramStandin is not started")
        return self._port

    @property
    def url(self) -> str:
        """Root URL of the server, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url`` (PTB appends the token): ``http://127.0.0.1:PORT/bot``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url``: ``http://127.0.0.1:PORT/file/bot``."""
        return f"{self.url}/file/bot"

    @property
    def bot_id(self) -> int:
        """The bot's user id (the numeric prefix of the token)."""
        return self._bot_id

    @property
    def bot_username(self) -> str:
        """The bot's username, without ``@``."""
        return str(self._bot_user["username"])

    # ---------------------------------------------------------------- HTTP handlers

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.body_exists:
            return params
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise _bad("JSON request body must be an object")
            params.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = UploadedFile(
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                else:
                    params[key] = value
        else:
            raise _bad(f"unsupported Content-Type {content_type!r}")
        return params

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        token_valid = token == self._token
        raw: dict[str, Any] = {}
        status = 200
        payload: JSONDict
        try:
            raw = await self._read_params(request)
            if not token_valid:
                raise _ApiError(401, "Unauthorized")
            key = method.lower()
            with self._cond:
                webhook_active = self._webhook is not None
            if key == "getupdates" and webhook_active:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use "
                    "deleteWebhook to delete the webhook first",
                )
            if key == "getupdates":
                result: Any = await self._api_get_updates(_Params(raw))
            else:
                handler = self._methods.get(key)
                if handler is None:
                    raise _ApiError(404, "Not Found")
                with self._cond:
                    try:
                        if key in _FLOOD_CONTROLLED:
                            self._check_flood(method, _Params(raw))
                        result = handler(_Params(raw))
                    finally:
                        self._cond.notify_all()
            payload = {"ok": True, "result": result}
        except _ApiError as exc:
            status = exc.status
            payload = exc.payload()
        except Exception as exc:  # a bug in the stand-in: make it loud, not a hang
            status = 500
            description = f"Internal Server Error: stand-in failed on {method}: {exc!r}"
            payload = {"ok": False, "error_code": 500, "description": description}
            with self._cond:
                self._internal_errors.append(description)
        self._record(
            RecordedRequest(
                method=method,
                params=raw,
                status=status,
                description=None if status == 200 else str(payload.get("description")),
                token_valid=token_valid,
                http_method=request.method,
                content_type=request.content_type,
                timestamp=time.time(),
            )
        )
        return web.json_response(payload, status=status)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self._token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        with self._cond:
            stored = next((f for f in self._files.values() if f.file_path == path), None)
        if stored is None or stored.data is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    def _record(self, entry: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(entry)
            self._cond.notify_all()

    # ---------------------------------------------------------------- long polling

    def _wake_pollers(self) -> None:
        """Resolve all pending long-poll futures (loop thread only)."""
        for future in self._pollers:
            if not future.done():
                future.set_result(None)
        self._pollers.clear()

    def _notify_pollers(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed concurrently
                loop.call_soon_threadsafe(self._wake_pollers)

    async def _api_get_updates(self, params: _Params) -> list[JSONDict]:
        offset = params.integer("offset")
        limit = params.integer("limit") or 100
        limit = max(1, min(limit, 100))
        timeout = max(0.0, min(params.number("timeout") or 0.0, 50.0))
        allowed = params.json_value("allowed_updates")
        if allowed is not None and not isinstance(allowed, list):
            raise _bad("can't parse allowed_updates JSON object")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._cond:
                if allowed is not None:
                    self._allowed_updates = [str(a) for a in allowed] or None
                batch = self._collect_updates(offset, limit)
                self._cond.notify_all()
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                return batch
            # No await between the check above and registering the future: a wake-up scheduled
            # from another thread runs on this loop only after the future is registered.
            future: asyncio.Future[None] = loop.create_future()
            self._pollers.add(future)
            with self._cond:
                self._waiting_polls += 1
                self._cond.notify_all()
            try:
                await asyncio.wait({future}, timeout=remaining)
            finally:
                self._pollers.discard(future)
                with self._cond:
                    self._waiting_polls -= 1

    def _collect_updates(self, offset: int | None, limit: int) -> list[JSONDict]:
        """Confirm updates below *offset* and return up to *limit* pending ones (lock held)."""
        if offset is not None and offset < 0:
            keep = -offset
            while len(self._updates) > keep:
                self._updates.popleft()
        elif offset:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        if self._allowed_updates is not None:
            allowed = set(self._allowed_updates)
            self._updates = deque(u for u in self._updates if _update_type(u) in allowed)
        batch = list(itertools.islice(self._updates, limit))
        self._delivered_update_ids.update(u["update_id"] for u in batch)
        return copy.deepcopy(batch)

    # ---------------------------------------------------------------- Bot API methods

    def _api_get_me(self, params: _Params) -> JSONDict:
        return {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_delete_webhook(self, params: _Params) -> bool:
        if params.boolean("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        return True

    def _api_set_webhook(self, params: _Params) -> bool:
        url = params.string("url") or ""
        if not url:
            return self._api_delete_webhook(params)
        match = re.fullmatch(r"https://[^/:\s]+(?::(\d+))?(?:/\S*)?", url)
        if match is None:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if match[1] is not None and int(match[1]) not in (443, 80, 88, 8443):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.string("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("bad webhook: secret token contains unallowed characters")
        allowed = params.json_value("allowed_updates")
        if params.boolean("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": allowed,
            "max_connections": params.integer("max_connections") or 40,
        }
        return True

    def _api_get_webhook_info(self, params: _Params) -> JSONDict:
        return {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _commands_key(params: _Params) -> tuple[str, str]:
        scope = params.json_value("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), params.string("language_code") or ""

    def _api_set_my_commands(self, params: _Params) -> bool:
        commands = params.json_value("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise _bad("too many commands specified")
        cleaned: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _BOT_COMMAND_NAME_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        self._commands[self._commands_key(params)] = cleaned
        return True

    def _api_get_my_commands(self, params: _Params) -> list[JSONDict]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _api_delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _bot_text_setter(self, field: str, limit: int) -> Callable[[_Params], bool]:
        def handler(params: _Params) -> bool:
            value = params.string(field) or ""
            if len(value) > limit:
                raise _bad(f"{field} is too long")
            key = (field, params.string("language_code") or "")
            if value:
                self._bot_texts[key] = value
            else:
                self._bot_texts.pop(key, None)
            return True

        return handler

    def _bot_text_getter(self, field: str) -> Callable[[_Params], JSONDict]:
        def handler(params: _Params) -> JSONDict:
            language = params.string("language_code") or ""
            value = self._bot_texts.get((field, language), self._bot_texts.get((field, ""), ""))
            if field == "name" and not value:
                value = str(self._bot_user["first_name"])
            return {field: value}

        return handler

    def _api_send_message(self, params: _Params) -> JSONDict:
        chat = self._resolve_chat(params.chat_id())
        text, entities = self._format(
            params.string("text"),
            params.string("parse_mode"),
            params.json_value("entities"),
            limit=MAX_MESSAGE_LENGTH,
            too_long="message is too long",
            empty="message text is empty",
        )
        markup = self._parse_reply_markup(params)
        reply_to = self._resolve_reply(chat["id"], params)
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._store_bot_message(chat, content, markup, reply_to)

    def _api_edit_message_text(self, params: _Params) -> JSONDict:
        message = self._message_to_edit(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = self._format(
            params.string("text"),
            params.string("parse_mode"),
            params.json_value("entities"),
            limit=MAX_MESSAGE_LENGTH,
            too_long="MESSAGE_TOO_LONG",
            empty="message text is empty",
        )
        markup = self._parse_reply_markup(params)
        return self._apply_edit(message, {"text": text, "entities": entities}, markup)

    def _api_edit_message_reply_markup(self, params: _Params) -> JSONDict:
        message = self._message_to_edit(params)
        markup = self._parse_reply_markup(params)
        return self._apply_edit(message, {}, markup)

    def _api_delete_message(self, params: _Params) -> bool:
        chat = self._resolve_chat(params.chat_id())
        message_id = params.integer("message_id", required=True)
        assert message_id is not None
        if self._messages.pop((chat["id"], message_id), None) is None:
            raise _bad("message to delete not found")
        self._deleted.setdefault(chat["id"], []).append(message_id)
        return True

    def _api_send_chat_action(self, params: _Params) -> bool:
        chat = self._resolve_chat(params.chat_id())
        action = params.string("action", required=True)
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        assert action is not None
        self._chat_actions.setdefault(chat["id"], []).append(action)
        return True

    def _api_answer_callback_query(self, params: _Params) -> bool:
        query_id = params.string("callback_query_id", required=True)
        assert query_id is not None
        record = self._callbacks.get(query_id)
        if record is None or record.answer is not None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.string("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        record.answer = {
            "callback_query_id": query_id,
            "text": text,
            "show_alert": params.boolean("show_alert"),
            "url": params.string("url"),
            "cache_time": params.integer("cache_time") or 0,
        }
        return True

    def _api_get_chat(self, params: _Params) -> JSONDict:
        chat = self._resolve_chat(params.chat_id())
        return {
            **copy.deepcopy(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _api_send_photo(self, params: _Params) -> JSONDict:
        chat = self._resolve_chat(params.chat_id())
        stored = self._input_file(params, "photo", folder="photos", default_ext="jpg")
        content = self._caption_content(params)
        width, height = _image_size(stored.data)
        content["photo"] = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": width,
                "height": height,
                **({"file_size": stored.size} if stored.size is not None else {}),
            }
        ]
        markup = self._parse_reply_markup(params)
        return self._store_bot_message(
            chat, content, markup, self._resolve_reply(chat["id"], params)
        )

    def _api_send_document(self, params: _Params) -> JSONDict:
        chat = self._resolve_chat(params.chat_id())
        stored = self._input_file(params, "document", folder="documents", default_ext="bin")
        content = self._caption_content(params)
        document: JSONDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        if stored.size is not None:
            document["file_size"] = stored.size
        content["document"] = document
        markup = self._parse_reply_markup(params)
        return self._store_bot_message(
            chat, content, markup, self._resolve_reply(chat["id"], params)
        )

    def _api_get_file(self, params: _Params) -> JSONDict:
        file_id = params.string("file_id", required=True)
        stored = self._files.get(file_id or "")
        if stored is None:
            raise _bad("invalid file_id")
        result: JSONDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.data is not None:
            result["file_size"] = len(stored.data)
            result["file_path"] = stored.file_path
        return result

    # ---------------------------------------------------------------- method helpers

    def _resolve_chat(self, chat_id: int | str | None) -> JSONDict:
        if isinstance(chat_id, str):
            username = chat_id.lstrip("@").lower()
            for chat in self._chats.values():
                if str(chat.get("username", "")).lower() == username:
                    return chat
            raise _bad("chat not found")
        found = self._chats.get(chat_id) if chat_id is not None else None
        if found is None:
            raise _bad("chat not found")
        return found

    def _format(
        self,
        text: str | None,
        parse_mode: str | None,
        entities: Any,
        *,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> tuple[str, list[JSONDict]]:
        """Parse/validate a text or caption. ``empty=None`` means an empty value is allowed."""
        if not text:
            if empty is not None:
                raise _bad(empty)
            return "", []
        mode = (parse_mode or "").strip().lower()
        if mode == "html":
            try:
                formatted = parse_html(text)
            except HTMLParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        elif mode in ("", "none"):
            if entities is not None and not isinstance(entities, list):
                raise _bad("can't parse entities JSON object")
            formatted = FormattedText(text=text, entities=copy.deepcopy(entities or []))
        elif mode in ("markdown", "markdownv2"):
            # Not validated by the stand-in: passed through as plain text.
            formatted = FormattedText(text=text, entities=[])
        else:
            raise _bad("unsupported parse_mode")
        formatted = _trim(formatted)
        if not formatted.text and empty is not None:
            raise _bad(empty)
        if utf16_length(formatted.text) > limit:
            raise _bad(too_long)
        return formatted.text, formatted.entities

    def _caption_content(self, params: _Params) -> JSONDict:
        caption, entities = self._format(
            params.string("caption"),
            params.string("parse_mode"),
            params.json_value("caption_entities"),
            limit=MAX_CAPTION_LENGTH,
            too_long="message caption is too long",
            empty=None,
        )
        content: JSONDict = {}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    def _parse_reply_markup(self, params: _Params) -> JSONDict | None:
        """Validate ``reply_markup``; return the inline keyboard to store (if any)."""
        markup = params.json_value("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
                return None  # accepted; not part of the returned Message on Telegram either
            raise _bad("can't parse reply keyboard markup JSON object")
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                "can't parse inline keyboard markup: "
                'field "inline_keyboard" must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                actions = [key for key in _BUTTON_ACTIONS if key in button]
                if not actions:
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if (
                        not isinstance(data, str)
                        or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
                    ):
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S+$", url):
                        raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        if not any(rows):
            return None
        return {"inline_keyboard": copy.deepcopy(rows)}

    def _resolve_reply(self, chat_id: int, params: _Params) -> JSONDict | None:
        reply_parameters = params.json_value("reply_parameters")
        allow_missing = params.boolean("allow_sending_without_reply")
        if reply_parameters is not None:
            if not isinstance(reply_parameters, dict):
                raise _bad("can't parse reply parameters JSON object")
            target_id = reply_parameters.get("message_id")
            allow_missing = bool(reply_parameters.get("allow_sending_without_reply", allow_missing))
        else:
            target_id = params.integer("reply_to_message_id")
        if target_id is None:
            return None
        target = self._messages.get((chat_id, int(target_id)))
        if target is None:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        reply = copy.deepcopy(target)
        reply.pop("reply_to_message", None)
        return reply

    def _store_bot_message(
        self,
        chat: JSONDict,
        content: JSONDict,
        markup: JSONDict | None,
        reply_to: JSONDict | None,
    ) -> JSONDict:
        chat_id = int(chat["id"])
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": copy.deepcopy(self._bot_user),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(content)
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = message
        self._sent.setdefault(chat_id, []).append(message)
        return copy.deepcopy(message)

    def _message_to_edit(self, params: _Params) -> JSONDict:
        if params.present("inline_message_id"):
            raise _bad("inline messages are not supported by the Telegram stand-in")
        chat = self._resolve_chat(params.chat_id())
        message_id = params.integer("message_id", required=True)
        assert message_id is not None
        message = self._messages.get((chat["id"], message_id))
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self._bot_id:
            raise _bad("message can't be edited")
        return message

    def _apply_edit(
        self, message: JSONDict, new_content: JSONDict, markup: JSONDict | None
    ) -> JSONDict:
        current = {key: message.get(key) for key in new_content}
        if "entities" in current:
            current["entities"] = current["entities"] or []
        if (current, message.get("reply_markup")) == (new_content, markup):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        for key, value in new_content.items():
            if key == "entities" and not value:
                message.pop("entities", None)
            else:
                message[key] = value
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        chat_id = int(message["chat"]["id"])
        self._edits.setdefault(chat_id, []).append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _input_file(
        self, params: _Params, field: str, *, folder: str, default_ext: str
    ) -> _StoredFile:
        value = params.raw.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.raw.get(value[len("attach://") :])
        if isinstance(value, UploadedFile):
            return self._new_file(
                value.data,
                folder=folder,
                ext=_extension(value.filename) or default_ext,
                file_name=value.filename,
                mime_type=value.content_type,
            )
        if isinstance(value, str) and value:
            if value in self._files:
                return self._files[value]
            if value.startswith(("http://", "https://")):
                return self._new_file(None, folder=folder, ext=default_ext)
            raise _bad("wrong file identifier/HTTP URL specified")
        raise _bad(f"there is no {field} in the request")

    def _new_file(
        self,
        data: bytes | None,
        *,
        folder: str,
        ext: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> _StoredFile:
        number = next(self._file_counter)
        stored = _StoredFile(
            file_id=f"{folder.upper()}-standin-{number:06d}-AgACAgIAAxkBAAI",
            file_unique_id=f"AQAD{number:06d}",
            file_path=f"{folder}/file_{number}.{ext}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        return stored

    def _next_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_ids.get(chat_id, 1)
        self._next_message_ids[chat_id] = message_id + 1
        return message_id

    def _check_flood(self, method: str, params: _Params) -> None:
        try:
            chat_key: int | str | None = params.chat_id(required=False)
        except _ApiError:
            return
        if chat_key is None:
            return
        for index, (chat_filter, retry_after) in enumerate(self._injected_floods):
            if chat_filter is None or chat_filter == chat_key:
                del self._injected_floods[index]
                self._flood_rejections.append((method, chat_key))
                raise _ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
        if self._flood_limit is None:
            return
        now = time.monotonic()
        times = self._flood_times.setdefault(chat_key, deque())
        while times and now - times[0] >= self._flood_window:
            times.popleft()
        if len(times) >= self._flood_limit:
            self._flood_rejections.append((method, chat_key))
            retry_after = self._flood_retry_after
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        times.append(now)

    # ---------------------------------------------------------------- user side: injection

    def _remember_user(
        self,
        user_id: int,
        *,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> JSONDict:
        user = dict(
            self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "Test"}
        )
        if first_name is not None:
            user["first_name"] = first_name
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                user[key] = value
        self._users[user_id] = user
        return copy.deepcopy(user)

    def _ensure_chat(
        self, chat_id: int, chat_type: str, user: JSONDict, title: str | None
    ) -> JSONDict:
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError(f"unsupported chat_type {chat_type!r} (private, group, supergroup)")
        if chat_type == "private" and chat_id != user["id"]:
            raise ValueError(
                f"a private chat's id equals the user's id on Telegram (chat_id={chat_id}, "
                f"user_id={user['id']})"
            )
        existing = self._chats.get(chat_id)
        if existing is not None:
            if existing["type"] != chat_type:
                raise ValueError(
                    f"chat {chat_id} already exists with type {existing['type']!r}, "
                    f"not {chat_type!r}"
                )
            if title is not None and chat_type != "private":
                existing["title"] = title
            return existing
        chat: JSONDict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            for key in ("first_name", "last_name", "username"):
                if key in user:
                    chat[key] = user[key]
        else:
            chat["title"] = title or "Test group"
        self._chats[chat_id] = chat
        return chat

    def _enqueue_update(self, payload: JSONDict) -> int:
        """Queue an update (lock held by caller) and wake long polls."""
        update_id = next(self._update_ids)
        update = {"update_id": update_id, **copy.deepcopy(payload)}
        self._updates.append(update)
        self._update_history[update_id] = update
        self._cond.notify_all()
        self._notify_pollers()
        return update_id

    def _inject_message(
        self,
        chat_id: int,
        user_id: int,
        content: JSONDict,
        *,
        chat_type: str,
        chat_title: str | None,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        reply_to_message_id: int | None,
    ) -> int:
        with self._cond:
            user = self._remember_user(
                user_id,
                first_name=first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
            )
            chat = self._ensure_chat(chat_id, chat_type, user, chat_title)
            reply: JSONDict | None = None
            if reply_to_message_id is not None:
                target = self._messages.get((chat_id, reply_to_message_id))
                if target is None:
                    raise ValueError(
                        f"no message {reply_to_message_id} in chat {chat_id} to reply to"
                    )
                reply = copy.deepcopy(target)
                reply.pop("reply_to_message", None)
            message: JSONDict = {
                "message_id": self._next_message_id(chat_id),
                "from": user,
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
            }
            if reply is not None:
                message["reply_to_message"] = reply
            message.update(copy.deepcopy(content))
            self._messages[(chat_id, message["message_id"])] = message
            return self._enqueue_update({"message": message})

    def send_user_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "private",
        chat_title: str | None = None,
        language_code: str | None = "en",
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
        entities: list[JSONDict] | None = None,
    ) -> int:
        """Simulate a user sending a text message; returns the ``update_id``.

        Args:
            chat_id: The chat; for ``chat_type="private"`` it must equal ``user_id`` (as on
                Telegram). Use negative ids for groups.
            user_id: The sending user.
            text: Message text, 1-4096 UTF-16 code units.
            chat_type: ``"private"``, ``"group"`` or ``"supergroup"``.
            chat_title: Title for group chats (default ``"Test group"``).
            language_code: The user's client language (``None`` to omit it).
            first_name: The user's first name (default ``"Test"``, or what was set earlier).
            last_name: Optional last name.
            username: Optional username (without ``@``).
            reply_to_message_id: Make this a reply to an existing message in the chat.
            entities: Explicit entities; by default ``bot_command`` (``/cmd``, ``/cmd@bot``),
                ``mention`` (``@name``) and ``url`` entities are generated like Telegram does.
        """
        if not text or not text.strip():
            raise ValueError("Telegram clients cannot send an empty text message")
        if utf16_length(text) > MAX_MESSAGE_LENGTH:
            raise ValueError("Telegram clients cannot send texts over 4096 UTF-16 code units")
        content: JSONDict = {"text": text}
        found = _auto_entities(text) if entities is None else copy.deepcopy(entities)
        if found:
            content["entities"] = found
        return self._inject_message(
            chat_id,
            user_id,
            content,
            chat_type=chat_type,
            chat_title=chat_title,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            reply_to_message_id=reply_to_message_id,
        )

    def send_user_sticker(
        self,
        chat_id: int,
        user_id: int,
        *,
        emoji: str = "👍",
        chat_type: str = "private",
        chat_title: str | None = None,
        language_code: str | None = "en",
        first_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """Simulate a user sending a (static, regular) sticker; returns the ``update_id``."""
        with self._cond:
            stored = self._new_file(
                b"RIFF\x00\x00\x00\x00WEBPVP8 ",
                folder="stickers",
                ext="webp",
                mime_type="image/webp",
            )
        sticker: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "emoji": emoji,
            "set_name": "StandinStickers",
            "file_size": stored.size,
        }
        return self._inject_message(
            chat_id,
            user_id,
            {"sticker": sticker},
            chat_type=chat_type,
            chat_title=chat_title,
            first_name=first_name,
            last_name=None,
            username=username,
            language_code=language_code,
            reply_to_message_id=reply_to_message_id,
        )

    def send_user_photo(
        self,
        chat_id: int,
        user_id: int,
        *,
        caption: str | None = None,
        data: bytes = b"\xff\xd8\xff\xe0standin-jpeg\xff\xd9",
        width: int = 1280,
        height: int = 720,
        chat_type: str = "private",
        chat_title: str | None = None,
        language_code: str | None = "en",
        first_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """Simulate a user sending a photo (downloadable via ``getFile``); returns ``update_id``."""
        if caption is not None and utf16_length(caption) > MAX_CAPTION_LENGTH:
            raise ValueError("captions are limited to 1024 UTF-16 code units")
        with self._cond:
            small = self._new_file(data, folder="photos", ext="jpg", mime_type="image/jpeg")
            large = self._new_file(data, folder="photos", ext="jpg", mime_type="image/jpeg")
        scale = max(width, height) / 90 or 1
        photo = [
            {
                "file_id": small.file_id,
                "file_unique_id": small.file_unique_id,
                "width": max(1, round(width / scale)),
                "height": max(1, round(height / scale)),
                "file_size": small.size,
            },
            {
                "file_id": large.file_id,
                "file_unique_id": large.file_unique_id,
                "width": width,
                "height": height,
                "file_size": large.size,
            },
        ]
        content: JSONDict = {"photo": photo}
        if caption:
            content["caption"] = caption
            caption_entities = _auto_entities(caption)
            if caption_entities:
                content["caption_entities"] = caption_entities
        return self._inject_message(
            chat_id,
            user_id,
            content,
            chat_type=chat_type,
            chat_title=chat_title,
            first_name=first_name,
            last_name=None,
            username=username,
            language_code=language_code,
            reply_to_message_id=reply_to_message_id,
        )

    def send_user_voice(
        self,
        chat_id: int,
        user_id: int,
        *,
        duration: int = 3,
        data: bytes = b"OggS\x00standin-voice",
        chat_type: str = "private",
        chat_title: str | None = None,
        language_code: str | None = "en",
        first_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """Simulate a user sending a voice message (downloadable via ``getFile``)."""
        with self._cond:
            stored = self._new_file(data, folder="voice", ext="oga", mime_type="audio/ogg")
        voice: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.size,
        }
        return self._inject_message(
            chat_id,
            user_id,
            {"voice": voice},
            chat_type=chat_type,
            chat_title=chat_title,
            first_name=first_name,
            last_name=None,
            username=username,
            language_code=language_code,
            reply_to_message_id=reply_to_message_id,
        )

    def send_user_document(
        self,
        chat_id: int,
        user_id: int,
        *,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        data: bytes = b"%PDF-1.4 standin",
        caption: str | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        language_code: str | None = "en",
        first_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """Simulate a user sending a document (downloadable via ``getFile``)."""
        with self._cond:
            stored = self._new_file(
                data,
                folder="documents",
                ext=_extension(file_name) or "bin",
                file_name=file_name,
                mime_type=mime_type,
            )
        content: JSONDict = {
            "document": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": stored.size,
            }
        }
        if caption:
            content["caption"] = caption
        return self._inject_message(
            chat_id,
            user_id,
            content,
            chat_type=chat_type,
            chat_title=chat_title,
            first_name=first_name,
            last_name=None,
            username=username,
            language_code=language_code,
            reply_to_message_id=None,
        )

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> str:
        """Simulate a user pressing an inline button; returns the callback query id.

        The message must be one the bot sent to *chat_id* and its *current* inline keyboard
        must contain a button with this ``callback_data`` (otherwise :class:`AssertionError`,
        since no real user could press it).
        """
        with self._cond:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise AssertionError(f"there is no message {message_id} in chat {chat_id}")
            if message.get("from", {}).get("id") != self._bot_id:
                raise AssertionError(
                    f"message {message_id} in chat {chat_id} was not sent by the bot"
                )
            available = [
                button.get("callback_data")
                for row in message.get("reply_markup", {}).get("inline_keyboard", [])
                for button in row
                if "callback_data" in button
            ]
            if callback_data not in available:
                raise AssertionError(
                    f"message {message_id} in chat {chat_id} has no button with callback_data "
                    f"{callback_data!r}; its buttons have {available!r}"
                )
            user = self._remember_user(
                user_id,
                first_name=first_name,
                last_name=None,
                username=username,
                language_code=language_code,
            )
            query_id = str(next(self._callback_ids))
            self._callbacks[query_id] = _CallbackQuery(
                query_id=query_id,
                chat_id=chat_id,
                message_id=message_id,
                user_id=user_id,
                data=callback_data,
            )
            self._enqueue_update(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": user,
                        "message": copy.deepcopy(message),
                        "chat_instance": _chat_instance(chat_id),
                        "data": callback_data,
                    }
                }
            )
            return query_id

    # ---------------------------------------------------------------- flood control

    def set_flood_limit(
        self, max_messages: int | None, *, per_seconds: float = 1.0, retry_after: int = 1
    ) -> None:
        """Allow at most *max_messages* sends per chat within *per_seconds*; ``None`` disables."""
        with self._cond:
            self._flood_limit = max_messages
            self._flood_window = per_seconds
            self._flood_retry_after = retry_after
            self._flood_times.clear()

    def inject_flood_errors(
        self, count: int = 1, *, retry_after: int = 1, chat_id: int | None = None
    ) -> None:
        """Make the next *count* sending requests (to *chat_id*, or any chat) fail with 429."""
        with self._cond:
            self._injected_floods.extend((chat_id, retry_after) for _ in range(count))

    @property
    def flood_rejections(self) -> list[tuple[str, int | str]]:
        """``(method, chat_id)`` of every request rejected with 429."""
        with self._cond:
            return list(self._flood_rejections)

    # ---------------------------------------------------------------- inspection

    def sent_messages(self, chat_id: int | None = None) -> list[JSONDict]:
        """Messages the bot sent (to *chat_id*, or to any chat), oldest first.

        Each is the Bot API ``Message`` dict in its *current* state (after edits); deleted
        messages are still listed (see :meth:`deleted_messages`).
        """
        with self._cond:
            if chat_id is not None:
                return copy.deepcopy(self._sent.get(chat_id, []))
            merged = [m for messages in self._sent.values() for m in messages]
            return copy.deepcopy(merged)

    def get_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The current state of any (user's or bot's) message, or ``None``."""
        with self._cond:
            message = self._messages.get((chat_id, message_id))
            return copy.deepcopy(message) if message is not None else None

    def get_update(self, update_id: int) -> JSONDict:
        """The update as injected (e.g. to learn the ``message_id`` of a user's message)."""
        with self._cond:
            return copy.deepcopy(self._update_history[update_id])

    def edits(self, chat_id: int) -> list[JSONDict]:
        """Snapshots of edited messages in *chat_id*, one per successful edit, oldest first."""
        with self._cond:
            return copy.deepcopy(self._edits.get(chat_id, []))

    def deleted_messages(self, chat_id: int) -> list[int]:
        """Ids of messages the bot deleted in *chat_id*."""
        with self._cond:
            return list(self._deleted.get(chat_id, []))

    def chat_actions(self, chat_id: int) -> list[str]:
        """Chat actions (``"typing"``, ...) the bot sent to *chat_id*, in order."""
        with self._cond:
            return list(self._chat_actions.get(chat_id, []))

    def callback_answer(self, callback_query_id: str) -> JSONDict | None:
        """The bot's ``answerCallbackQuery`` parameters for this query, or ``None`` so far."""
        with self._cond:
            record = self._callbacks.get(callback_query_id)
            if record is None:
                raise KeyError(f"unknown callback query id {callback_query_id!r}")
            return copy.deepcopy(record.answer)

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """Commands set with ``setMyCommands`` for a scope (default scope) and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        with self._cond:
            return copy.deepcopy(self._commands.get(key, []))

    @property
    def requests_log(self) -> list[RecordedRequest]:
        """Every Bot API request received so far, in arrival order."""
        with self._cond:
            return list(self._requests)

    def requests(self, method: str) -> list[RecordedRequest]:
        """Recorded requests for one method (case-insensitive)."""
        wanted = method.lower()
        with self._cond:
            return [r for r in self._requests if r.method.lower() == wanted]

    @property
    def webhook(self) -> JSONDict | None:
        """The webhook set with ``setWebhook`` (url, secret_token, ...), or ``None``."""
        with self._cond:
            return copy.deepcopy(self._webhook)

    @property
    def pending_update_count(self) -> int:
        """Updates not yet confirmed by the bot."""
        with self._cond:
            return len(self._updates)

    @property
    def waiting_polls(self) -> int:
        """Number of ``getUpdates`` long polls currently blocked waiting for updates."""
        with self._cond:
            return self._waiting_polls

    @property
    def internal_errors(self) -> list[str]:
        """Descriptions of stand-in bugs (HTTP 500 replies); should stay empty."""
        with self._cond:
            return list(self._internal_errors)

    # ---------------------------------------------------------------- waiting

    def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float,
        description: str = "condition",
    ) -> None:
        """Block until *predicate()* is true (evaluated under the state lock).

        The predicate may call this object's public methods. Raises :class:`AssertionError`
        with diagnostics after *timeout* seconds.
        """
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError(
                    f"Timed out after {timeout:g}s waiting for {description}.\n"
                    f"{self._diagnostics()}"
                )

    def wait_for_messages(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Wait until the bot has sent at least *count* messages to *chat_id* in total.

        Returns all of the bot's messages in that chat (current state, oldest first).
        """
        self.wait_for(
            lambda: len(self._sent.get(chat_id, [])) >= count,
            timeout,
            f"{count} bot message(s) in chat {chat_id}",
        )
        return self.sent_messages(chat_id)

    def wait_for_edits(self, chat_id: int, count: int = 1, timeout: float = 5.0) -> list[JSONDict]:
        """Wait until the bot has made at least *count* edits in *chat_id*; returns the edits."""
        self.wait_for(
            lambda: len(self._edits.get(chat_id, [])) >= count,
            timeout,
            f"{count} edit(s) in chat {chat_id}",
        )
        return self.edits(chat_id)

    def wait_for_chat_action(
        self, chat_id: int, action: str = "typing", timeout: float = 5.0
    ) -> None:
        """Wait until the bot has sent chat action *action* to *chat_id*."""
        self.wait_for(
            lambda: action in self._chat_actions.get(chat_id, []),
            timeout,
            f"chat action {action!r} in chat {chat_id}",
        )

    def wait_for_callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> JSONDict:
        """Wait until the bot answered this callback query; returns the answer's parameters."""

        def answered() -> bool:
            record = self._callbacks.get(callback_query_id)
            if record is None:
                raise KeyError(f"unknown callback query id {callback_query_id!r}")
            return record.answer is not None

        self.wait_for(answered, timeout, f"an answer to callback query {callback_query_id}")
        answer = self.callback_answer(callback_query_id)
        assert answer is not None
        return answer

    def wait_until_updates_consumed(self, timeout: float = 5.0) -> None:
        """Wait until every queued update was confirmed (by a later ``getUpdates`` offset)."""
        self.wait_for(lambda: not self._updates, timeout, "all updates to be confirmed")

    def wait_for_long_poll(self, timeout: float = 5.0) -> None:
        """Wait until a ``getUpdates`` long poll is blocked waiting (the bot is idle)."""
        self.wait_for(lambda: self._waiting_polls > 0, timeout, "a waiting getUpdates long poll")

    def wait_for_request(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until *count* requests for *method* were answered (any outcome); returns them.

        Requests are recorded when answered, so a pending long poll is not listed yet (see
        :meth:`wait_for_long_poll`).
        """
        wanted = method.lower()
        self.wait_for(
            lambda: sum(r.method.lower() == wanted for r in self._requests) >= count,
            timeout,
            f"{count} {method} request(s)",
        )
        return self.requests(method)

    def _diagnostics(self) -> str:
        lines: list[str] = []
        for chat_id, messages in self._sent.items():
            texts = [m.get("text", m.get("caption", "<media>")) for m in messages]
            lines.append(f"  bot messages in chat {chat_id}: {texts!r}")
        if not self._sent:
            lines.append("  the bot has sent no messages")
        pending = [u["update_id"] for u in self._updates]
        undelivered = [uid for uid in pending if uid not in self._delivered_update_ids]
        lines.append(
            f"  unconfirmed updates: {pending!r} (never fetched by getUpdates: {undelivered!r})"
        )
        failures = [r for r in self._requests if not r.ok][-8:]
        for r in failures:
            lines.append(f"  failed request: {r.method} -> {r.status} {r.description}")
        recent = [r.method for r in self._requests if r.method.lower() != "getupdates"][-12:]
        lines.append(f"  recent non-polling requests: {recent!r}")
        polls = sum(r.method.lower() == "getupdates" for r in self._requests)
        lines.append(f"  getUpdates calls so far: {polls}")
        lines.extend(f"  STAND-IN BUG: {e}" for e in self._internal_errors)
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _chat_instance(chat_id: int) -> str:
    """A stable, Telegram-looking ``chat_instance`` for a chat."""
    return str(-((chat_id * 2_654_435_761 + 1_234_567_891) % 9_000_000_000_000_000_000))


def _extension(filename: str | None) -> str | None:
    if filename and "." in filename:
        ext = filename.rsplit(".", 1)[1]
        if ext.isalnum():
            return ext.lower()
    return None


def _image_size(data: bytes | None) -> tuple[int, int]:
    """Width/height of a PNG upload; other formats get a plausible default."""
    if data and data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 1280, 720
