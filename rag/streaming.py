"""Consuming a blocking iterator from asyncio code without blocking the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


async def iterate_in_thread(make_iterator: Callable[[], Iterator[T]]) -> AsyncGenerator[T, None]:
    """The items of `make_iterator()`, produced in a worker thread as they come.

    When the consumer stops early and closes this generator (`contextlib.aclosing`), the
    worker stops at the next item and closes the iterator (and so, say, an HTTP stream).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
    stopped = threading.Event()

    def send(kind: str, value: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def produce() -> None:
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

    threading.Thread(target=produce, name="newsbot-stream", daemon=True).start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            if kind == "done":
                return
            yield value  # type: ignore[misc]
    finally:
        stopped.set()
