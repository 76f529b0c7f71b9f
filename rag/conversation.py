"""What a chat remembers: its last few question/answer turns."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rag.models import Answer

DEFAULT_MAX_TURNS = 6


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str


class Conversation:
    """The last `max_turns` turns of one chat (a REPL session, a Telegram chat).

    With a language model, follow-up questions are rewritten from these turns before
    retrieval; the offline answerer treats every question as standing alone.
    """

    def __init__(self, max_turns: int = DEFAULT_MAX_TURNS) -> None:
        self._turns: deque[Turn] = deque(maxlen=max_turns)

    @property
    def turns(self) -> list[Turn]:
        return list(self._turns)

    def __len__(self) -> int:
        return len(self._turns)

    def add(self, answer: Answer) -> None:
        self._turns.append(Turn(question=answer.question, answer=answer.answer))

    def reset(self) -> None:
        self._turns.clear()
