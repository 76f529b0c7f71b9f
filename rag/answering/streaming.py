"""Consuming a blocking iterator from another thread: from asyncio code without blocking the
event loop, or from a terminal's main thread so that Ctrl-C stops waiting at once."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from typing import TypeVar

T = TypeVar("T")


def _produce(
    make_iterator: Callable[[], Iterator[T]],
    send: Callable[[str, object], None],
    stopped: threading.Event,
) -> None:
    """Send each item of `make_iterator()`, then "done" (or "error"), unless stopped first."""
    try:
        with contextlib.closing(make_iterator()) as items:  # type: ignore[type-var]
            for item in items:
                if stopped.is_set():
                    return
                send("item", item)
    except BaseException as exc:
        send("error", exc)
    else:
        send("done", None)


_DONE = object()


def _received(kind: str, value: object) -> object:
    """The item in a message from the worker, or _DONE at the end; raises its error."""
    if kind == "error":
        assert isinstance(value, BaseException)
        raise value
    return _DONE if kind == "done" else value


def _start(
    make_iterator: Callable[[], Iterator[T]],
    send: Callable[[str, object], None],
    stopped: threading.Event,
) -> None:
    threading.Thread(
        target=_produce, args=(make_iterator, send, stopped), name="newsbot-stream", daemon=True
    ).start()


async def iterate_in_thread(make_iterator: Callable[[], Iterator[T]]) -> AsyncGenerator[T, None]:
    """The items of `make_iterator()`, produced in a worker thread as they come.

    When the consumer stops early and closes this generator (`contextlib.aclosing`), the
    worker stops at the next item and closes the iterator (and so, say, an HTTP stream).
    """
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
    stopped = threading.Event()

    def send(kind: str, value: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(items.put_nowait, (kind, value))

    _start(make_iterator, send, stopped)
    try:
        while (item := _received(*await items.get())) is not _DONE:
            yield item  # type: ignore[misc]
    finally:
        stopped.set()


def iterate_in_background(make_iterator: Callable[[], Iterator[T]]) -> Generator[T, None, None]:
    """The items of `make_iterator()`, produced in a worker thread, for a blocking consumer.

    Waiting for the next item can be interrupted (Ctrl-C); closing this generator makes the
    worker stop at the next item and close the iterator. Its work so far is dropped.
    """
    items: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
    stopped = threading.Event()
    _start(make_iterator, lambda kind, value: items.put((kind, value)), stopped)
    try:
        while (item := _received(*items.get())) is not _DONE:
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
