"""Logging without secrets: the bot token and webhook secret never reach a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rag.safe_text import redact

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replaces secrets in log messages and tracebacks by "[redacted]"."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add(secret_values)

    def add(self, secret_values: Iterable[str]) -> None:
        found = set(self._secrets) | {s for s in secret_values if s}
        self._secrets = sorted(found, key=len, reverse=True)

    def redact(self, value: str) -> str:
        return redact(value, self._secrets, mask=REDACTED)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


LOG_REDACTOR = RedactSecrets()


# python-telegram-bot logs its API URLs, token included, at DEBUG when a bot is created;
# httpx logs every request URL at INFO.
_LOGGERS_THAT_SEE_URLS = ("telegram.Bot", "telegram.ext.ExtBot", "httpx", "httpcore")


def protect_logs(secret_values: Iterable[str]) -> None:
    """Redact these secrets in every record of the loggers that could see them (filters on a
    logger apply to whatever handler or test harness ends up with its records)."""
    LOG_REDACTOR.add(secret_values)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    names = set(_LOGGERS_THAT_SEE_URLS) | {
        name
        for name in logging.root.manager.loggerDict
        if name.split(".")[0] in ("telegram", "httpx", "httpcore")
    }
    for name in names:
        logging.getLogger(name).addFilter(LOG_REDACTOR)
