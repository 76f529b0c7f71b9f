"""`Reply`: the work runs once, whichever way the reply is read first, and the rest read what
it left; iterated, a model's text is streamed, read at once it is asked for in one request."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from rag.models import Answer, AnswerDelta, RetrievedPassage, SmallTalk
from rag.reply import Replied, Reply, ReplyEvent

ANSWER = Answer(question="Who?", answer="Microsoft [1].", abstained=False, language="en")
PASSAGE = RetrievedPassage(
    passage_id="a#0",
    text="Microsoft wants to buy TikTok.",
    score=1.0,
    source="a.txt",
    title="A",
    language="en",
    start=0,
    end=30,
)
WAIT = 10.0


class Work:
    """A reply's work: two pieces when streamed, then the answer; counts its runs."""

    def __init__(
        self, pieces: tuple[str, ...] = ("Microsoft ", "[1]."), gate: threading.Event | None = None
    ) -> None:
        self.pieces = pieces
        # Set, the work goes on after its first piece only once the gate opens.
        self.gate = gate
        self.runs: list[bool] = []
        self.closed = threading.Event()

    def __call__(self, stream: bool) -> Iterator[ReplyEvent]:
        self.runs.append(stream)
        try:
            if stream:
                for number, piece in enumerate(self.pieces):
                    if number and self.gate is not None:
                        self.gate.wait(WAIT)
                    yield AnswerDelta(text=piece)
            yield Replied(ANSWER, [PASSAGE])
        finally:
            self.closed.set()


def test_read_at_once_the_work_runs_once_without_streaming() -> None:
    work = Work()
    reply = Reply(None, work)
    assert reply.answer == ANSWER and reply.passages == [PASSAGE]
    assert reply.answer is reply.answer
    assert work.runs == [False]
    assert reply.streamed == "" and list(reply) == []


def test_iterated_the_pieces_come_then_the_answer_without_a_second_run() -> None:
    work = Work()
    reply = Reply(None, work)
    assert list(reply) == ["Microsoft ", "[1]."]
    assert reply.streamed == "Microsoft [1]." and reply.answer == ANSWER
    assert list(reply) == ["Microsoft ", "[1]."], "a second iteration replays the pieces"
    assert work.runs == [True]


def test_async_iteration_runs_the_work_off_the_event_loop() -> None:
    work = Work()
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def recording(stream: bool) -> Iterator[ReplyEvent]:
        threads.append(threading.get_ident())
        yield from work(stream)

    reply = Reply(None, recording)

    async def consume() -> list[str]:
        return [piece async for piece in reply]

    assert asyncio.run(consume()) == ["Microsoft ", "[1]."]
    assert threads and threads[0] != loop_thread
    assert reply.answer == ANSWER and work.runs == [True]


def test_in_background_streams_from_a_worker_thread() -> None:
    work = Work()
    reply = Reply(None, work)
    assert list(reply.in_background()) == ["Microsoft ", "[1]."]
    assert reply.answer == ANSWER and work.runs == [True]


def test_leaving_the_stream_early_stops_the_work_and_leaves_no_answer() -> None:
    gate = threading.Event()
    work = Work(gate=gate)
    reply = Reply(None, work)
    pieces = reply.in_background()
    with contextlib.closing(pieces):
        assert next(pieces) == "Microsoft "
    gate.set()
    assert work.closed.wait(WAIT), "the worker stops at its next event"
    with pytest.raises(RuntimeError, match="stopped before it ended"):
        _ = reply.answer
    assert work.runs == [True], "the work is not run again"


def test_async_leaving_early_closes_the_model_stream() -> None:
    gate = threading.Event()
    work = Work(pieces=("a", "b", "c"), gate=gate)
    reply = Reply(None, work)

    async def first_piece() -> str:
        async with contextlib.aclosing(reply.astream()) as pieces:
            async for piece in pieces:
                return piece
        raise AssertionError("no piece")

    assert asyncio.run(first_piece()) == "a"
    gate.set()
    assert work.closed.wait(WAIT)
    with pytest.raises(RuntimeError):
        _ = reply.answer


def test_small_talk_is_told_before_any_work() -> None:
    work = Work()
    talk = SmallTalk(kind="greeting", language="fr")
    reply = Reply(talk, work)
    assert reply.small_talk == talk and work.runs == []
