"""The Telegram bot's settings (NEWSBOT_TELEGRAM_*) and its configuration, checked: a
well-formed token, who may use the bot, the webhook."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from bot.telegram.access import AccessPolicy
from rag.errors import ConfigError
from rag.settings import EmptyMeansUnset, NewsbotSettings

TOKEN_PATTERN = re.compile(r"[0-9]+:[A-Za-z0-9_-]{35}")
TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)
# Random bytes of the webhook secret made up at start when none is configured.
WEBHOOK_SECRET_BYTES = 32


class TelegramSettings(NewsbotSettings):
    """The Telegram bot's settings. `.env.example` documents each one."""

    telegram_token: Annotated[SecretStr | None, EmptyMeansUnset] = Field(
        default=None, description="Telegram bot token from @BotFather (secret, never logged)."
    )
    telegram_base_url: str = Field(
        default="https://api.telegram.org/bot",
        pattern=r"^https?://\S+$",
        description="Bot API base URL, to which the token is appended (for a self-hosted Bot "
        "API server).",
    )
    telegram_allowed_users: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated user ids allowed to use the bot, in any chat.",
    )
    telegram_allowed_chats: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated chat ids (groups, or private chats) where anyone may use "
        "it. With both lists empty the bot refuses to start unless "
        "`NEWSBOT_TELEGRAM_PUBLIC=true`.",
    )
    telegram_public: bool = Field(
        default=False,
        description="`true`: anyone on Telegram may use the bot (it warns at start). Required "
        "when both allowlists are empty; an error when either is set.",
    )
    telegram_rate_limit: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="Questions, commands and button presses each user may send per minute "
        "(`0`: no limit).",
    )
    telegram_workers: int = Field(
        default=4, ge=1, le=64, description="Threads answering questions for the bot."
    )
    telegram_edit_interval: float = Field(
        default=1.0,
        ge=0.0,
        le=60.0,
        description="With a language model: seconds at least between edits of an answer's "
        "message as the model writes it.",
    )
    telegram_max_answer_messages: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Telegram messages (4,096 UTF-16 units each) one answer may take at most; "
        "a longer answer is cut at a word and ends with a note saying it was shortened, its "
        "sources and buttons kept.",
    )
    telegram_webhook_url: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None,
        description="Public HTTPS URL Telegram posts updates to; when set, the bot uses a "
        "webhook instead of long polling.",
    )
    telegram_webhook_listen: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address the bot's webhook server binds.",
    )
    telegram_webhook_port: int = Field(
        default=8443, ge=1, le=65535, description="Port of the bot's webhook server."
    )
    telegram_webhook_secret: Annotated[SecretStr | None, EmptyMeansUnset] = Field(
        default=None,
        description="Secret Telegram sends with every update (1 to 256 of `A-Z a-z 0-9 _ -`); "
        "other requests are refused. Empty: a random one, made up at each start.",
    )

    @field_validator("telegram_allowed_users", "telegram_allowed_chats", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            raise ValueError("must be a URL such as https://bot.example.org/telegram") from None
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https:// URL (Telegram only posts updates over HTTPS)")
        if port is not None and port not in TELEGRAM_WEBHOOK_PORTS:
            raise ValueError("Telegram only posts to ports 443, 80, 88 and 8443")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret_characters(cls, value: SecretStr | None) -> SecretStr | None:
        secret = value.get_secret_value() if value is not None else None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("must be 1-256 characters: letters, digits, _ and -")
        return value


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates (`url`) and where the bot's HTTP server listens."""

    url: str
    listen: str
    port: int
    secret: str = field(repr=False)

    @property
    def path(self) -> str:
        """The URL's path, served as is by the bot's server (your proxy forwards it)."""
        return urlsplit(self.url).path.strip("/")


@dataclass(frozen=True)
class TelegramConfig:
    """The bot's settings, checked: a well-formed token, the allowlists, the webhook."""

    token: str = field(repr=False)
    base_url: str
    access: AccessPolicy
    rate_limit: int
    workers: int
    edit_interval: float  # seconds at least between edits of a streaming answer
    max_answer_messages: int  # Telegram messages one answer may take at most
    webhook: Webhook | None

    @classmethod
    def from_settings(cls, settings: TelegramSettings) -> TelegramConfig:
        if settings.telegram_token is None:
            raise ConfigError(
                "NEWSBOT_TELEGRAM_TOKEN is not set; create a bot with @BotFather and put its "
                "token in .env (see the README's Telegram section)"
            )
        token = settings.telegram_token.get_secret_value().strip()
        if not TOKEN_PATTERN.fullmatch(token):
            raise ConfigError(
                "NEWSBOT_TELEGRAM_TOKEN is malformed: expected <bot id>:<35 letters, digits, "
                "_ or ->, as @BotFather gives it"
            )
        users, chats = settings.telegram_allowed_users, settings.telegram_allowed_chats
        if not users and not chats and not settings.telegram_public:
            raise ConfigError(
                "NEWSBOT_TELEGRAM_ALLOWED_USERS and NEWSBOT_TELEGRAM_ALLOWED_CHATS are both "
                "empty: list who may use the bot, or set NEWSBOT_TELEGRAM_PUBLIC=true to let "
                "anyone on Telegram use it"
            )
        if (users or chats) and settings.telegram_public:
            raise ConfigError(
                "NEWSBOT_TELEGRAM_PUBLIC=true lets anyone on Telegram use the bot, but "
                "NEWSBOT_TELEGRAM_ALLOWED_USERS or NEWSBOT_TELEGRAM_ALLOWED_CHATS restricts "
                "it: set the allowlists or NEWSBOT_TELEGRAM_PUBLIC, not both"
            )
        webhook = None
        if settings.telegram_webhook_url:
            configured = settings.telegram_webhook_secret
            secret = (
                configured.get_secret_value()
                if configured
                else secrets.token_urlsafe(WEBHOOK_SECRET_BYTES)
            )
            webhook = Webhook(
                url=settings.telegram_webhook_url,
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                secret=secret,
            )
        return cls(
            token=token,
            base_url=settings.telegram_base_url,
            access=AccessPolicy(users=users, chats=chats),
            rate_limit=settings.telegram_rate_limit,
            workers=settings.telegram_workers,
            webhook=webhook,
            edit_interval=settings.telegram_edit_interval,
            max_answer_messages=settings.telegram_max_answer_messages,
        )

    @property
    def secrets(self) -> list[str]:
        """Strings that must never be logged."""
        found = [self.token, self.token.split(":", 1)[1]]
        if self.webhook is not None:
            found.append(self.webhook.secret)
        return found
