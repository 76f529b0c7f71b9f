"""Who may use the Telegram bot, and how often: allowlists and a per-user rate limit."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class AccessPolicy:
    """Allowed users may use the bot anywhere; in an allowed chat, anyone may.

    With both lists empty the bot is open to everyone on Telegram (the bot only starts so
    when NEWSBOT_TELEGRAM_PUBLIC=true says that this is intended).
    """

    users: frozenset[int] = frozenset()
    chats: frozenset[int] = frozenset()

    @property
    def is_open(self) -> bool:
        return not self.users and not self.chats

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        if self.is_open:
            return True
        return (user_id is not None and user_id in self.users) or (
            chat_id is not None and chat_id in self.chats
        )


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0
    """Whole seconds until the user may ask again (when not allowed)."""
    first_refusal: bool = False
    """Whether this is the first refusal since the user was last allowed (say so once)."""


class RateLimiter:
    """At most `per_minute` requests (questions, commands, button presses) per user within any
    `window` seconds; 0 means no limit."""

    def __init__(
        self,
        per_minute: int,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.window = window
        self._clock = clock
        self._asked: dict[int, deque[float]] = {}
        self._refused: set[int] = set()

    def check(self, user_id: int) -> RateDecision:
        """Count a request from `user_id` if the limit allows it."""
        if self.per_minute <= 0:
            return RateDecision(allowed=True)
        now = self._clock()
        self._forget_before(now - self.window)
        asked = self._asked.setdefault(user_id, deque())
        if len(asked) < self.per_minute:
            asked.append(now)
            self._refused.discard(user_id)
            return RateDecision(allowed=True)
        retry_after = max(1, math.ceil(asked[0] + self.window - now))
        first = user_id not in self._refused
        self._refused.add(user_id)
        return RateDecision(allowed=False, retry_after=retry_after, first_refusal=first)

    def _forget_before(self, cutoff: float) -> None:
        for user_id in list(self._asked):
            asked = self._asked[user_id]
            while asked and asked[0] <= cutoff:
                asked.popleft()
            if not asked:
                del self._asked[user_id]
                self._refused.discard(user_id)
