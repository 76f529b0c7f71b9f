"""Logging without secrets (bot/telegram/logs.py): the bot token and the webhook secret never
reach a log line, whether in the message, its arguments, a traceback or a stack."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from telegram import Bot
from telegram.ext import ExtBot

from bot.telegram.logs import LOG_REDACTOR, REDACTED, RedactSecrets, protect_logs

SECRET_PART = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
TOKEN = f"7000000001:{SECRET_PART}"
WEBHOOK_SECRET = "webhook-secret-4711"


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own, whose one handler formats records as the bot's log does, with
    the secrets' filter on the handler (as `newsbot telegram` puts it on the root logger's
    handlers); and what the handler wrote."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets([TOKEN, SECRET_PART, WEBHOOK_SECRET]))
    logger = logging.getLogger("tests.telegram.logs")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, output
    logger.removeHandler(handler)


def fail_with(message: str) -> None:
    raise RuntimeError(message)


def test_the_token_is_one_mask_not_a_mask_after_the_bots_id() -> None:
    redactor = RedactSecrets([SECRET_PART, TOKEN])
    url = f"https://api.telegram.org/bot{TOKEN}/getMe"
    assert redactor.redact(url) == f"https://api.telegram.org/bot{REDACTED}/getMe"
    assert redactor.redact(f"secret {SECRET_PART}.") == f"secret {REDACTED}."


def test_credentials_in_urls_are_masked_and_ordinary_text_is_left_alone() -> None:
    redactor = RedactSecrets([TOKEN])
    assert redactor.redact("via http://bot:hunter2@proxy.example:8080/") == (
        f"via http://{REDACTED}@proxy.example:8080/"
    )
    text = "What did Microsoft promise about data storage? user@example.org"
    assert redactor.redact(text) == text


def test_empty_and_very_short_secrets_are_not_masked_everywhere() -> None:
    redactor = RedactSecrets(["", "ab"])
    assert redactor.redact("about a tab") == "about a tab"


def test_secrets_added_later_are_masked_too() -> None:
    redactor = RedactSecrets([TOKEN])
    redactor.add([WEBHOOK_SECRET, ""])
    redactor.add([TOKEN])  # again: no harm
    assert redactor.redact(f"{TOKEN} {WEBHOOK_SECRET}") == f"{REDACTED} {REDACTED}"


def test_a_secret_in_the_arguments_of_a_log_call_is_masked(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = log
    logger.info(
        "calling %s with secret %r", f"https://api.telegram.org/bot{TOKEN}/getMe", WEBHOOK_SECRET
    )
    assert output.getvalue() == (
        f"INFO tests.telegram.logs: calling https://api.telegram.org/bot{REDACTED}/getMe "
        f"with secret '{REDACTED}'\n"
    )


def test_a_record_without_secrets_keeps_its_message_and_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "chat %s: %s", (42, "hello"), None)
    assert RedactSecrets([TOKEN]).filter(record) is True
    assert record.msg == "chat %s: %s" and record.args == (42, "hello")


def test_a_token_in_an_exceptions_message_never_reaches_the_log(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = log
    try:
        try:
            fail_with(f"the Bot API at https://api.telegram.org/bot{TOKEN}/ failed")
        except RuntimeError as exc:
            raise ValueError(f"webhook secret {WEBHOOK_SECRET} refused") from exc
    except ValueError:
        logger.exception("the engine failed on a question in chat %s", 42)
    written = output.getvalue()
    assert written.startswith(
        "ERROR tests.telegram.logs: the engine failed on a question in chat 42\n"
    )
    assert "Traceback (most recent call last)" in written and "fail_with" in written
    assert f"RuntimeError: the Bot API at https://api.telegram.org/bot{REDACTED}/ failed" in written
    assert f"ValueError: webhook secret {REDACTED} refused" in written
    assert SECRET_PART not in written and WEBHOOK_SECRET not in written


def test_an_exception_as_the_message_itself_is_masked(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = log
    logger.error(RuntimeError(f"bad token {TOKEN}"))
    assert output.getvalue() == f"ERROR tests.telegram.logs: bad token {REDACTED}\n"


def test_a_secret_in_a_logged_stack_is_masked() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "here", None, None)
    record.stack_info = f'Stack (most recent call last):\n  bot = Bot("{TOKEN}")'
    RedactSecrets([TOKEN]).filter(record)
    assert record.stack_info == f'Stack (most recent call last):\n  bot = Bot("{REDACTED}")'


@pytest.fixture
def restored_loggers() -> Iterator[None]:
    """protect_logs changes loggers for the whole process: put back their levels and
    filters after the test."""
    manager = logging.root.manager
    names = ["httpx", "httpcore", "telegram", "telegram.Bot", "telegram.ext.ExtBot"]
    names += [n for n, v in manager.loggerDict.items() if isinstance(v, logging.Logger)]
    loggers = {name: logging.getLogger(name) for name in names}
    saved = {name: (lg.level, list(lg.filters)) for name, lg in loggers.items()}
    yield
    for name, (level, filters) in saved.items():
        loggers[name].setLevel(level)
        loggers[name].filters[:] = filters
    for name, value in manager.loggerDict.items():  # loggers made during the test
        if name not in saved and isinstance(value, logging.Logger):
            value.removeFilter(LOG_REDACTOR)


@pytest.mark.parametrize("bot_class", [Bot, ExtBot])
def test_protect_logs_masks_the_token_python_telegram_bot_logs_as_a_bot_is_made(
    restored_loggers: None, caplog: pytest.LogCaptureFixture, bot_class: type[Bot]
) -> None:
    caplog.set_level(logging.DEBUG)
    protect_logs([TOKEN, SECRET_PART])
    bot_class(TOKEN, base_url="http://127.0.0.1:9/bot")  # logs its API URL; sends nothing
    assert f"Set Bot API URL: http://127.0.0.1:9/bot{REDACTED}" in caplog.text
    assert SECRET_PART not in caplog.text
    assert all(SECRET_PART not in record.getMessage() for record in caplog.records)


def test_protect_logs_covers_the_loggers_that_see_urls_and_quiets_httpx(
    restored_loggers: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Those of python-telegram-bot's modules imported by then (the bot's runtime imports
    them all before it calls protect_logs), and httpx's and httpcore's."""
    caplog.set_level(logging.DEBUG)
    protect_logs([WEBHOOK_SECRET])
    assert logging.getLogger("httpx").level == logging.WARNING  # no line per request
    for name in ("httpx", "httpcore", "telegram.ext.Updater", "telegram.ext.ExtBot"):
        logging.getLogger(name).warning("posted to /hook?secret=%s", WEBHOOK_SECRET)
    assert caplog.text.count(f"posted to /hook?secret={REDACTED}") == 4
    assert WEBHOOK_SECRET not in caplog.text
