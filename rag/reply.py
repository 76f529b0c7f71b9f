"""`Reply`: what `Engine.reply` returns for one message, in the manner of simonw/llm's Response.

The work is done on first use: iterating (in this thread, in a worker thread for asyncio
front ends, or in the background for a terminal that must stay interruptible), or asking for
the `answer`. Whichever comes first runs it once; the rest read what it left.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass

from rag.answering.streaming import iterate_in_background, iterate_in_thread
from rag.models import Answer, AnswerDelta, RetrievedPassage, SmallTalk


@dataclass(frozen=True)
class Replied:
    """The end of a reply's work: the final answer and the ranked passages it was drawn from."""

    answer: Answer
    passages: list[RetrievedPassage]


# What a reply's work yields: the model's pieces as it writes, then one Replied.
ReplyEvent = AnswerDelta | Replied


class Reply:
    """The engine's reply to one message.

    - `small_talk`: what kind of small talk the message is (a greeting, thanks, a stray
      command word, emoji), None for a question. Small talk is never searched: its `answer`
      is a refusal, which a chat front end may replace with a reply of its own.
    - Iterate it (`for piece in reply`, or `async for` from asyncio code) for the answer's
      text as a language model writes it. Offline nothing is written piece by piece and the
      iteration is empty. When a model's text is dropped (it failed, or cited nothing), the
      final `answer` differs from the pieces and replaces them: compare with `streamed`.
    - `answer`: the final Answer (doing the work now if nothing has, a model asked in one
      whole request rather than streamed); `passages`: the ranked passages it was drawn from.
    """

    def __init__(
        self, small_talk: SmallTalk | None, work: Callable[[bool], Iterator[ReplyEvent]]
    ) -> None:
        self.small_talk = small_talk
        # Called with True to stream a model's text, False for one whole request.
        self._work: Callable[[bool], Iterator[ReplyEvent]] | None = work
        self._lock = threading.Lock()
        self._pieces: list[str] = []
        self._replied: Replied | None = None

    def _take_work(self) -> Callable[[bool], Iterator[ReplyEvent]] | None:
        """The work, to whoever comes first; None once it is taken."""
        with self._lock:
            work, self._work = self._work, None
        return work

    def _events(
        self, work: Callable[[bool], Iterator[ReplyEvent]], *, stream: bool = True
    ) -> Iterator[str]:
        """Run `work`, keeping its pieces and its end; yields the pieces."""
        for event in work(stream):
            if isinstance(event, Replied):
                self._replied = event
            else:
                self._pieces.append(event.text)
                yield event.text

    def __iter__(self) -> Iterator[str]:
        work = self._take_work()
        if work is None:
            self._require_done()
            yield from self._pieces
            return
        yield from self._events(work)

    def __aiter__(self) -> AsyncIterator[str]:
        return self.astream()

    async def astream(self) -> AsyncGenerator[str, None]:
        """The pieces, the work running in a worker thread so as not to block the event loop.

        Use it as `async with contextlib.aclosing(reply.astream()) as pieces:` so that
        leaving early also stops the model's stream.
        """
        work = self._take_work()
        if work is None:
            self._require_done()
            for piece in list(self._pieces):
                yield piece
            return
        pieces = iterate_in_thread(lambda: self._events(work))
        try:
            async for piece in pieces:
                yield piece
        finally:
            await pieces.aclose()

    def in_background(self) -> Generator[str, None, None]:
        """The pieces, the work running in a worker thread, so that a blocking front end (the
        REPL) can stop waiting at once (Ctrl-C). Closing the generator early stops the work
        at its next event, and the reply has no answer then."""
        work = self._take_work()
        if work is None:
            self._require_done()
            yield from list(self._pieces)
            return
        yield from iterate_in_background(lambda: self._events(work))

    def _complete(self) -> Replied:
        """Do the work in this thread if nobody has; its end."""
        work = self._take_work()
        if work is not None:
            for _ in self._events(work, stream=False):
                pass
        return self._require_done()

    def _require_done(self) -> Replied:
        if self._replied is None:
            raise RuntimeError("the reply's work was stopped before it ended, or is still running")
        return self._replied

    @property
    def answer(self) -> Answer:
        """The final answer (the work is done now, in this thread, if nothing has started it)."""
        return self._complete().answer

    @property
    def passages(self) -> list[RetrievedPassage]:
        """The ranked passages the answer was drawn from (empty for small talk)."""
        return self._complete().passages

    @property
    def streamed(self) -> str:
        """The text the model wrote piece by piece ("" offline)."""
        return "".join(self._pieces)
