"""The Telegram bot, built and run: cited answers in private chats and groups.

`build_application(config, engine)` wires python-telegram-bot to the engine, `serve()` runs
the application until SIGINT or SIGTERM (long polling, or a webhook server behind HTTPS) and
`main()` is what `newsbot telegram` calls. The engine runs in a small thread pool, off the
event loop, so that chats never wait for each other; each chat's messages are handled one at
a time, in order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

import click
from telegram import (
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    Defaults,
)

from bot.telegram.concurrency import (
    MAX_CONCURRENT_UPDATES,
    MessageRateLimiter,
    PerChatUpdateProcessor,
)
from bot.telegram.config import TelegramConfig, TelegramSettings
from bot.telegram.handlers import HANDLERS_KEY, NewsbotApplication, NewsbotHandlers, handlers_of
from bot.telegram.logs import LOG_REDACTOR, RedactSecrets, protect_logs
from rag.engine import Engine
from rag.errors import BackendError, ConfigError

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


def build_application(config: TelegramConfig, engine: Engine) -> NewsbotApplication:
    """The bot for this configuration, answering from `engine`; not started yet."""
    protect_logs(config.secrets)
    handlers = NewsbotHandlers(engine, config)
    application = (
        Application.builder()
        .token(config.token)
        .base_url(config.base_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                allow_sending_without_reply=True,
            )
        )
        .rate_limiter(MessageRateLimiter(max_retries=3))
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .post_init(handlers.post_init)
        .post_shutdown(handlers.post_shutdown)
        .build()
    )
    handlers.register(application)
    application.bot_data[HANDLERS_KEY] = handlers
    return application


def _announce(line: str) -> None:
    click.echo(f"newsbot: {line}", err=True)


async def serve(
    application: NewsbotApplication,
    config: TelegramConfig,
    *,
    announce: Callable[[str], None] = _announce,
) -> None:
    """Run the bot until SIGINT or SIGTERM, then stop cleanly.

    Raises ConfigError when Telegram refuses the token and BackendError when the Bot API
    cannot be reached; neither message contains a secret.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop_signal, stop.set)
    try:
        try:
            await application.initialize()
            if application.post_init is not None:
                await application.post_init(application)
            updater = application.updater
            assert updater is not None
            if config.webhook is None:
                await updater.start_polling(allowed_updates=ALLOWED_UPDATES)
                mode = "long polling"
            else:
                webhook = config.webhook
                try:
                    await updater.start_webhook(
                        listen=webhook.listen,
                        port=webhook.port,
                        url_path=webhook.path,
                        webhook_url=webhook.url,
                        secret_token=webhook.secret,
                        allowed_updates=ALLOWED_UPDATES,
                    )
                except OSError as exc:
                    raise BackendError(
                        f"cannot serve the webhook on {webhook.listen}:{webhook.port}: {exc}"
                    ) from None
                mode = f"webhook {webhook.url}, served on {webhook.listen}:{webhook.port}"
            await application.start()
        except InvalidToken:
            raise ConfigError(
                "Telegram refused NEWSBOT_TELEGRAM_TOKEN; check it with @BotFather"
            ) from None
        except TelegramError as exc:
            reason = RedactSecrets(config.secrets).redact(str(exc))
            raise BackendError(f"the Bot API at {config.base_url} failed: {reason}") from None
        handlers = handlers_of(application)
        articles = len(await handlers.run_engine(handlers.engine.articles))
        announce(
            f"telegram bot @{application.bot.username} is answering questions about "
            f"{articles} articles ({mode}); stop it with Ctrl+C or SIGTERM"
        )
        await stop.wait()
    finally:
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(stop_signal)
        await _shut_down(application)


async def _shut_down(application: NewsbotApplication) -> None:
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


def main() -> None:
    """Serve the bot configured by the settings until SIGINT or SIGTERM."""
    from bot.frontend import ensure_index, open_engine

    os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter without deprecation warnings
    # Built once and used throughout: without NEWSBOT_TELEGRAM_WEBHOOK_SECRET, each build
    # makes up a secret of its own.
    config = TelegramConfig.from_settings(TelegramSettings.load())
    engine = open_engine()
    for handler in logging.getLogger().handlers:  # whatever else might log a secret
        handler.addFilter(LOG_REDACTOR)
    ensure_index(engine)
    application = build_application(config, engine)
    protect_logs(config.secrets)  # again, for the loggers created while building
    asyncio.run(serve(application, config))
    _announce("telegram bot stopped")
