"""Errors that reach the user as one clear line."""

from __future__ import annotations


class NewsbotError(Exception):
    """An error whose message is fit to show a user as it is, on one line."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class ConfigError(NewsbotError):
    """A setting is missing or invalid."""

    exit_code = 2


class BadInputError(NewsbotError):
    """The user's input cannot be used (empty question, unreadable file, ...)."""

    exit_code = 2


class IndexUnavailableError(NewsbotError):
    """The index cannot be opened or written; the message says what to do."""


class IngestBusyError(NewsbotError):
    """Another ingest holds the data directory."""


class BackendError(NewsbotError):
    """A backend (embedding model, LLM, Chroma server) failed."""
