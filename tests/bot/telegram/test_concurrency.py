"""Concurrency and memory (bot/telegram/concurrency.py): chats side by side, each chat in
order, "typing…" outside the message budget, and the bounded `Recent` memory.

Nothing sleeps to synchronise: coroutines wait on asyncio Events, worker threads on
threading Events and Barriers, all with timeouts.
"""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from telegram import Update
from telegram.error import RetryAfter

from bot.telegram.concurrency import MessageRateLimiter, PerChatUpdateProcessor, Recent

WAIT = 10.0
PRIVATE, OTHER_PRIVATE, GROUP = 4242, 4343, -100777


# ------------------------------------------------------------------ Recent


def test_recent_forgets_the_least_recently_used_beyond_its_size() -> None:
    recent: Recent[str, int] = Recent(3)
    for number, key in enumerate("abc"):
        recent.put(key, number)
    assert recent.get("a") == 0  # now the most recently used
    recent.put("d", 3)
    assert len(recent) == 3
    assert recent.get("b") is None  # the least recently used went
    assert [recent.get(key) for key in "acd"] == [0, 2, 3]


def test_putting_a_key_again_replaces_its_value_and_makes_it_recent() -> None:
    recent: Recent[str, str] = Recent(2)
    recent.put("a", "first")
    recent.put("b", "b")
    recent.put("a", "second")
    recent.put("c", "c")
    assert len(recent) == 2
    assert recent.get("a") == "second" and recent.get("b") is None


def test_a_missing_key_is_none_and_changes_nothing() -> None:
    recent: Recent[int, str] = Recent(2)
    recent.put(1, "one")
    assert recent.get(2) is None
    assert len(recent) == 1


def test_get_or_create_creates_once_even_a_value_that_is_false() -> None:
    # An empty conversation is false (it has a length): it must still be remembered.
    recent: Recent[int, list[str]] = Recent(2)
    created: list[list[str]] = []

    def create() -> list[str]:
        created.append([])
        return created[-1]

    first = recent.get_or_create(1, create)
    again = recent.get_or_create(1, create)
    assert first is again and len(created) == 1
    first.append("a turn")
    assert recent.get(1) == ["a turn"]


def test_get_or_create_counts_as_a_use() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.get_or_create("a", lambda: 0)
    recent.put("c", 3)
    assert recent.get("a") == 1 and recent.get("b") is None


def test_a_recent_of_size_zero_remembers_nothing() -> None:
    recent: Recent[str, int] = Recent(0)
    recent.put("a", 1)
    assert len(recent) == 0 and recent.get("a") is None
    assert recent.get_or_create("a", lambda: 2) == 2  # created, handed out, not kept
    assert len(recent) == 0


# ------------------------------------------------------------------ PerChatUpdateProcessor


def update_in(chat_id: int, *, button: bool = False, update_id: int = 1) -> Update:
    """A message (or, with `button`, a button press) from a user in `chat_id`."""
    chat_type = "private" if chat_id > 0 else "group"
    user = {"id": abs(chat_id), "is_bot": False, "first_name": "Lina"}
    message = {
        "message_id": update_id,
        "date": 0,
        "chat": {"id": chat_id, "type": chat_type},
        "from": user,
        "text": "a question",
    }
    if button:
        data = {"id": str(update_id), "from": user, "chat_instance": "1", "data": "cite:k:1"}
        return Update.de_json(
            {"update_id": update_id, "callback_query": {**data, "message": message}}, None
        )
    return Update.de_json({"update_id": update_id, "message": message}, None)


class Work:
    """Coroutines for a processor to run: each records when it starts and ends, and may be
    made to wait at its start until the test lets it go."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.started: dict[str, asyncio.Event] = {}
        self.gates: dict[str, asyncio.Event] = {}

    def make(
        self, name: str, *, gated: bool = False, fail: bool = False
    ) -> Coroutine[Any, Any, None]:
        self.started[name] = asyncio.Event()
        if gated:
            self.gates[name] = asyncio.Event()

        async def run() -> None:
            self.log.append(f"start {name}")
            self.started[name].set()
            if gated:
                await self.gates[name].wait()
            self.log.append(f"end {name}")
            if fail:
                raise RuntimeError(f"{name} failed")

        return run()

    async def wait_started(self, name: str) -> None:
        await asyncio.wait_for(self.started[name].wait(), WAIT)


async def started_processor(limit: int = 64) -> PerChatUpdateProcessor:
    processor = PerChatUpdateProcessor(limit)
    await processor.initialize()
    return processor


def submit(
    processor: PerChatUpdateProcessor, update: object, work: Awaitable[Any]
) -> asyncio.Task[None]:
    # As python-telegram-bot's Application does: one task per update.
    return asyncio.create_task(processor.process_update(update, work))


def holds_nothing(processor: PerChatUpdateProcessor) -> bool:
    """Whether the processor keeps no lock, nor count, for any chat (its memory is bounded
    by the chats in progress, not by all the chats ever seen)."""
    return not processor._locks and not processor._holders


def test_a_chats_messages_run_one_at_a_time_in_order_while_other_chats_go_on() -> None:
    async def scenario() -> None:
        processor = await started_processor()
        work = Work()
        first = submit(processor, update_in(PRIVATE, update_id=1), work.make("1", gated=True))
        later = [
            submit(processor, update_in(PRIVATE, update_id=n), work.make(str(n))) for n in (2, 3)
        ]
        await work.wait_started("1")
        # Another chat's message, sent after them, runs now; tasks start in the order they
        # were made, so messages 2 and 3 had their turn before it, and were held back.
        other = submit(processor, update_in(OTHER_PRIVATE, update_id=4), work.make("other"))
        await asyncio.wait_for(other, WAIT)
        assert work.log == ["start 1", "start other", "end other"]
        work.gates["1"].set()
        await asyncio.wait_for(asyncio.gather(first, *later), WAIT)
        assert work.log[3:] == ["end 1", "start 2", "end 2", "start 3", "end 3"]
        assert holds_nothing(processor)

    asyncio.run(scenario())


def test_a_button_press_does_not_wait_for_the_chats_question_in_progress() -> None:
    async def scenario() -> None:
        processor = await started_processor()
        work = Work()
        question = submit(
            processor, update_in(GROUP, update_id=1), work.make("question", gated=True)
        )
        await work.wait_started("question")
        press = submit(processor, update_in(GROUP, button=True, update_id=2), work.make("press"))
        await asyncio.wait_for(press, WAIT)
        assert work.log == ["start question", "start press", "end press"]
        work.gates["question"].set()
        await asyncio.wait_for(question, WAIT)
        assert holds_nothing(processor)

    asyncio.run(scenario())


def test_what_has_no_chat_runs_at_once() -> None:
    async def scenario() -> None:
        processor = await started_processor()
        work = Work()
        question = submit(processor, update_in(PRIVATE), work.make("question", gated=True))
        await work.wait_started("question")
        no_chat = Update.de_json({"update_id": 9}, None)
        await asyncio.wait_for(processor.process_update(no_chat, work.make("no chat")), WAIT)
        await asyncio.wait_for(processor.process_update(object(), work.make("not an update")), WAIT)
        assert work.log[1:] == [
            "start no chat",
            "end no chat",
            "start not an update",
            "end not an update",
        ]
        work.gates["question"].set()
        await asyncio.wait_for(question, WAIT)

    asyncio.run(scenario())


def test_a_failed_or_cancelled_message_lets_the_chats_next_one_run() -> None:
    async def scenario() -> None:
        processor = await started_processor()
        work = Work()
        failing = submit(
            processor, update_in(PRIVATE, update_id=1), work.make("1", gated=True, fail=True)
        )
        await work.wait_started("1")
        never_run = work.make("2")
        cancelled = submit(processor, update_in(PRIVATE, update_id=2), never_run)
        last = submit(processor, update_in(PRIVATE, update_id=3), work.make("3"))
        # Run the queued tasks up to their wait for the chat's lock, then cancel one of them.
        other = submit(processor, update_in(OTHER_PRIVATE, update_id=4), work.make("other"))
        await asyncio.wait_for(other, WAIT)
        cancelled.cancel()
        work.gates["1"].set()
        with pytest.raises(RuntimeError, match="1 failed"):
            await asyncio.wait_for(failing, WAIT)
        await asyncio.wait_for(last, WAIT)
        assert cancelled.cancelled()
        assert "start 2" not in work.log and work.log[-2:] == ["start 3", "end 3"]
        assert holds_nothing(processor)
        never_run.close()

    asyncio.run(scenario())


def test_different_chats_work_at_the_same_time_in_threads_and_each_chat_in_turn() -> None:
    """As the handlers do, each message hands its work to a worker thread. The first
    message of each chat waits there at a barrier that only all of the chats together can
    pass, then until the test lets it go."""
    chats = [PRIVATE, OTHER_PRIVATE, GROUP]
    barrier = threading.Barrier(len(chats), timeout=WAIT)
    release = threading.Event()
    lock = threading.Lock()
    handed: list[tuple[int, int]] = []  # work handed to a thread, on the event loop
    done: list[tuple[int, int]] = []

    async def scenario() -> None:
        processor = await started_processor()
        loop = asyncio.get_running_loop()
        met = asyncio.Event()

        def thread_work(chat: int, number: int) -> None:
            if number == 1:
                barrier.wait()  # BrokenBarrierError unless the chats' work runs at once
                loop.call_soon_threadsafe(met.set)
                assert release.wait(WAIT)
            with lock:
                done.append((chat, number))

        async def handle(chat: int, number: int) -> None:
            handed.append((chat, number))
            await loop.run_in_executor(None, thread_work, chat, number)

        tasks = [
            submit(processor, update_in(chat, update_id=10 * abs(chat) + n), handle(chat, n))
            for n in (1, 2, 3)
            for chat in chats
        ]
        await asyncio.wait_for(met.wait(), WAIT)
        # Every task has had its turn on the loop by now (`met` is set from a thread, which
        # wakes this test an iteration of the loop later): the chats' later messages wait.
        assert sorted(handed) == sorted((chat, 1) for chat in chats)
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        assert holds_nothing(processor)

    asyncio.run(scenario())
    for chat in chats:
        assert [n for c, n in done if c == chat] == [1, 2, 3]


def test_no_more_updates_run_at_once_than_the_limit() -> None:
    async def scenario() -> None:
        processor = await started_processor(limit=2)
        work = Work()
        chats = [PRIVATE, OTHER_PRIVATE, GROUP]
        tasks = [
            submit(processor, update_in(chat, update_id=i), work.make(str(chat), gated=True))
            for i, chat in enumerate(chats)
        ]
        await work.wait_started(str(PRIVATE))
        await work.wait_started(str(OTHER_PRIVATE))
        # Both slots are taken by messages that wait at their gate: the third chat's waits.
        assert not work.started[str(GROUP)].is_set()
        work.gates[str(PRIVATE)].set()
        await work.wait_started(str(GROUP))
        for gate in work.gates.values():
            gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)

    asyncio.run(scenario())


# ------------------------------------------------------------------ MessageRateLimiter


class Requests:
    """The Bot API requests that got through the limiter, by endpoint."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def callback(self, endpoint: str) -> Callable[[], Awaitable[bool]]:
        async def send() -> bool:
            self.sent.append(endpoint)
            return True

        return send


def test_typing_goes_out_whatever_the_message_budget() -> None:
    async def scenario() -> None:
        # One message an hour: the second message waits; "typing…" never does.
        limiter = MessageRateLimiter(overall_max_rate=1, overall_time_period=3600, max_retries=0)
        await limiter.initialize()
        requests = Requests()

        async def request(endpoint: str, chat_id: int = PRIVATE) -> Any:
            return await limiter.process_request(
                requests.callback(endpoint), (), {}, endpoint, {"chat_id": chat_id}, None
            )

        assert await request("sendMessage") is True
        held = asyncio.create_task(request("sendMessage", OTHER_PRIVATE))

        async def typing() -> list[Any]:
            return [await request("sendChatAction") for _ in range(5)]

        # Started after the held message, so that it waits in the limiter by the time the
        # typing is through.
        assert await asyncio.wait_for(asyncio.create_task(typing()), WAIT) == [True] * 5
        assert requests.sent == ["sendMessage", *["sendChatAction"] * 5]
        assert not held.done()
        held.cancel()
        await limiter.shutdown()

    asyncio.run(scenario())


def test_typing_under_a_flood_limit_is_given_up_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # as `newsbot telegram` runs

    async def scenario() -> None:
        limiter = MessageRateLimiter(max_retries=3)
        await limiter.initialize()
        attempts: list[str] = []

        async def flooded() -> bool:
            attempts.append("sendChatAction")
            raise RetryAfter(datetime.timedelta(seconds=30))

        # Retried, it would wait 30 s, three times over.
        with pytest.raises(RetryAfter):
            await asyncio.wait_for(
                limiter.process_request(
                    flooded, (), {}, "sendChatAction", {"chat_id": PRIVATE}, None
                ),
                WAIT,
            )
        assert attempts == ["sendChatAction"]
        await limiter.shutdown()

    asyncio.run(scenario())
