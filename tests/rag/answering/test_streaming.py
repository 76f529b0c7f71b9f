from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from rag.answering.streaming import iterate_in_background, iterate_in_thread


def endless(closed: threading.Event) -> Iterator[int]:
    """0, 1, 2, … until closed; then sets `closed`."""
    try:
        n = 0
        while True:
            yield n
            n += 1
    finally:
        closed.set()


def test_items_arrive_in_order_off_the_event_loop() -> None:
    loop_thread: list[int] = []
    worker_threads: set[int] = set()

    def numbers() -> Iterator[int]:
        for n in range(5):
            worker_threads.add(threading.get_ident())
            yield n

    async def consume() -> list[int]:
        loop_thread.append(threading.get_ident())
        return [n async for n in iterate_in_thread(numbers)]

    assert asyncio.run(consume()) == [0, 1, 2, 3, 4]
    assert worker_threads and loop_thread[0] not in worker_threads


def test_errors_reach_the_consumer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("broken backend")

    async def consume() -> list[int]:
        return [n async for n in iterate_in_thread(failing)]

    with pytest.raises(ValueError, match="broken backend"):
        asyncio.run(consume())


def test_stopping_early_closes_the_iterator() -> None:
    closed = threading.Event()

    async def consume() -> int:
        async with contextlib.aclosing(iterate_in_thread(lambda: endless(closed))) as items:
            async for n in items:
                if n == 3:
                    return n
        return -1

    assert asyncio.run(consume()) == 3
    assert closed.wait(10), "the worker closed the generator"


def test_background_items_arrive_in_order_and_errors_reach_the_consumer() -> None:
    worker_threads: set[int] = set()

    def failing() -> Iterator[int]:
        for n in range(3):
            worker_threads.add(threading.get_ident())
            yield n
        raise ValueError("broken backend")

    received: list[int] = []
    with pytest.raises(ValueError, match="broken backend"):
        received.extend(iterate_in_background(failing))
    assert received == [0, 1, 2]
    assert worker_threads and threading.get_ident() not in worker_threads


def test_closing_the_background_iterator_closes_the_source() -> None:
    closed = threading.Event()

    with contextlib.closing(iterate_in_background(lambda: endless(closed))) as items:
        assert next(items) == 0
    assert closed.wait(10), "the worker closed the generator"
