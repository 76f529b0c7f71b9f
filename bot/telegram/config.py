"""The Telegram bot's configuration, checked: a well-formed token, who may use the bot,
the webhook."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.telegram.access import AccessPolicy
from rag.errors import ConfigError
from rag.settings import Settings

TOKEN_PATTERN = re.compile(r"[0-9]+:[A-Za-z0-9_-]{35}")


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
    webhook: Webhook | None = None
    edit_interval: float = 1.0  # seconds at least between edits of a streaming answer
    max_answer_messages: int = 3  # Telegram messages one answer may take at most

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConfig:
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
            secret = settings.telegram_webhook_secret
            webhook = Webhook(
                url=settings.telegram_webhook_url,
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                secret=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
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
