from __future__ import annotations

from bot.telegram.access import AccessPolicy, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_empty_allowlists_let_everyone_in() -> None:
    policy = AccessPolicy()
    assert policy.is_open and policy.allows(1, 1) and policy.allows(None, None)


def test_allowed_users_anywhere_and_anyone_in_allowed_chats() -> None:
    policy = AccessPolicy(users=frozenset({7}), chats=frozenset({-100}))
    assert not policy.is_open
    assert policy.allows(7, 7) and policy.allows(7, -200)  # an allowed user, in any chat
    assert policy.allows(8, -100)  # anyone, in an allowed group
    assert not policy.allows(8, 8) and not policy.allows(8, -200) and not policy.allows(None, 8)
    only_chats = AccessPolicy(chats=frozenset({8}))  # a private chat's id is the user's id
    assert only_chats.allows(8, 8) and not only_chats.allows(9, 9)


def test_rate_limit_counts_questions_per_user_within_a_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    for second in (0, 10, 20):
        clock.now = 1000 + second
        assert limiter.check(1).allowed
    clock.now = 1030
    refused = limiter.check(1)
    assert not refused.allowed and refused.first_refusal and refused.retry_after == 30
    clock.now = 1035.5
    again = limiter.check(1)
    assert not again.allowed and not again.first_refusal and again.retry_after == 25
    assert limiter.check(2).allowed  # other users are not affected
    clock.now = 1060  # the first question is now a minute old
    assert limiter.check(1).allowed
    refused = limiter.check(1)
    assert not refused.allowed and refused.first_refusal and refused.retry_after == 10


def test_retry_after_is_at_least_one_second_and_zero_means_no_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    assert limiter.check(1).allowed
    clock.now += 59.9
    assert limiter.check(1).retry_after == 1
    unlimited = RateLimiter(0, clock=clock)
    assert all(unlimited.check(1).allowed for _ in range(1000))
