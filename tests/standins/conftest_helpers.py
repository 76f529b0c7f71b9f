"""Reusable pytest fixtures and helpers for running python-telegram-bot against the stand-in.

Import the fixtures into a test module (pytest picks up fixtures that are module attributes)::

    from tests.standins.conftest_helpers import run_application, telegram_api  # noqa: F401

or, from inside the ``tests/standins`` package, with a relative import.

:class:`ApplicationThread` runs a PTB ``Application`` in polling mode in a background thread
with its own event loop, following the same start/stop sequence as ``Application.run_polling``
(initialize, post_init, updater.start_polling, start ... updater.stop, stop, post_stop,
shutdown, post_shutdown) but without signal handlers and with a thread-safe stop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import pytest
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter, ContextTypes

from .telegram_api import TelegramStandin

__all__ = [
    "AnyApplication",
    "ApplicationThread",
    "build_application",
    "run_application",
    "telegram_api",
]

T = TypeVar("T")
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def build_application(
    api: TelegramStandin,
    *,
    rate_limiter: BaseRateLimiter[Any] | None = None,
    configure: Callable[[ApplicationBuilder[Any, Any, Any, Any, Any, Any]], object] | None = None,
) -> AnyApplication:
    """An ``Application`` whose bot talks to *api* (token, ``base_url``, ``base_file_url`` set).

    *configure* may adjust the builder further before ``build()``.
    """
    builder = (
        Application.builder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
    )
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    if configure is not None:
        configure(builder)
    return builder.build()


class ApplicationThread:
    """Run a PTB ``Application`` (long polling) in a background thread with its own loop.

    Use as a context manager or call :meth:`start` / :meth:`stop`. Exceptions raised by
    handlers are collected (an error handler is added) and available as :attr:`errors`.

    Args:
        application: The application to run (not yet initialized).
        poll_timeout: ``getUpdates`` long-poll timeout in whole seconds. Stopping does not
            wait for it: PTB cancels the pending request.
        allowed_updates: Passed to ``start_polling``.
        drop_pending_updates: Passed to ``start_polling``.
        start_timeout / stop_timeout: Upper bounds for start-up and shut-down.
    """

    def __init__(
        self,
        application: AnyApplication,
        *,
        poll_timeout: int = 10,
        allowed_updates: Sequence[str] | None = Update.ALL_TYPES,
        drop_pending_updates: bool = False,
        start_timeout: float = 15.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.application = application
        self._poll_timeout = poll_timeout
        self._allowed_updates = allowed_updates
        self._drop_pending_updates = drop_pending_updates
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._shutdown_error: BaseException | None = None
        self._errors: list[BaseException] = []
        self._errors_cond = threading.Condition()
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ApplicationThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the thread; returns once polling runs (raises if start-up failed)."""
        if self._thread is not None:
            raise RuntimeError("ApplicationThread can only be started once")
        self.application.add_error_handler(self._record_error)
        self._thread = threading.Thread(
            target=self._thread_main, name="ptb-application", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise RuntimeError(f"PTB application did not start within {self._start_timeout}s")
        if self._startup_error is not None:
            self._thread.join(self._stop_timeout)
            raise RuntimeError("PTB application failed to start") from self._startup_error

    def stop(self) -> None:
        """Stop polling and shut the application down (idempotent, bounded by stop_timeout)."""
        if self._stopped or self._thread is None:
            return
        self._stopped = True
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop_event.set)
        self._thread.join(self._stop_timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"PTB application did not stop within {self._stop_timeout}s")
        if self._shutdown_error is not None:
            raise RuntimeError("PTB application failed to shut down") from self._shutdown_error

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self._ready.set()  # never leave start() waiting

    async def _main(self) -> None:
        app = self.application
        self._stop_event = asyncio.Event()
        try:
            await app.initialize()
            if app.post_init is not None:
                await app.post_init(app)
            if app.updater is not None:
                await app.updater.start_polling(
                    poll_interval=0.0,
                    timeout=self._poll_timeout,
                    allowed_updates=self._allowed_updates,
                    drop_pending_updates=self._drop_pending_updates,
                )
            await app.start()
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            await self._shutdown()
            return
        self._ready.set()
        await self._stop_event.wait()
        await self._shutdown()

    async def _shutdown(self) -> None:
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
                if app.post_stop is not None:
                    await app.post_stop(app)
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
        except BaseException as exc:
            self._shutdown_error = exc

    # ------------------------------------------------------------------ helpers

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The application's event loop (only while running)."""
        if self._loop is None or self._loop.is_closed():
            raise RuntimeError("the application thread is not running")
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run *coro* on the application's loop and return its result (thread-safe).

        Handy to call bot methods directly: ``runner.run(app.bot.send_message(...))``.
        Exceptions (e.g. ``telegram.error.BadRequest``) propagate to the caller.
        """
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AssertionError(f"coroutine did not finish within {timeout}s") from None

    async def _record_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is None:
            return
        with self._errors_cond:
            self._errors.append(context.error)
            self._errors_cond.notify_all()

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by handlers so far (via PTB's error handling)."""
        with self._errors_cond:
            return list(self._errors)

    def wait_for_error(self, count: int = 1, timeout: float = 5.0) -> list[BaseException]:
        """Wait until *count* handler errors were recorded; returns all of them."""
        with self._errors_cond:
            if not self._errors_cond.wait_for(lambda: len(self._errors) >= count, timeout):
                raise AssertionError(
                    f"Timed out after {timeout:g}s waiting for {count} handler error(s); "
                    f"got {self._errors!r}"
                )
            return list(self._errors)


@pytest.fixture
def telegram_api() -> Iterator[TelegramStandin]:
    """A started :class:`TelegramStandin`, stopped after the test."""
    with TelegramStandin() as api:
        yield api


@pytest.fixture
def run_application(
    telegram_api: TelegramStandin,
) -> Iterator[Callable[..., ApplicationThread]]:
    """Factory: ``run_application(app, **ApplicationThread kwargs)`` starts *app* in a thread.

    Every application started this way is stopped at teardown, before the stand-in stops.
    """
    started: list[ApplicationThread] = []

    def start(application: AnyApplication, **kwargs: Any) -> ApplicationThread:
        runner = ApplicationThread(application, **kwargs)
        runner.start()
        started.append(runner)
        return runner

    yield start
    for runner in reversed(started):
        runner.stop()
