"""The rate limiter: spacing when a window runs low, blocking after a 429 or an exhausted window.

Time is a plain number the tests move; nothing sleeps.
"""

from __future__ import annotations

import pytest

from watchdog.sources.ratelimit import RateLimiter, header, header_float


class Now:
    def __init__(self, t: float = 1_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_no_headers_no_waiting() -> None:
    limiter = RateLimiter(upstream="Datadog", now=Now())
    assert [limiter.reserve() for _ in range(5)] == [0.0] * 5
    assert limiter.blocked_for() == 0.0


def test_plenty_remaining_no_spacing() -> None:
    now = Now()
    limiter = RateLimiter(upstream="Datadog", now=now)
    limiter.update(limit=1000, remaining=900, reset_at=now.t + 60)
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 0.0


def test_low_remaining_spaces_calls_over_the_window() -> None:
    now = Now()
    limiter = RateLimiter(upstream="Datadog", now=now)
    limiter.update(limit=100, remaining=4, reset_at=now.t + 40)
    waits = [limiter.reserve() or 0.0 for _ in range(3)]
    assert waits[0] == 0.0
    assert waits[1] == pytest.approx(10.0)  # 40 s left / 4 calls
    assert waits[2] > waits[1]


def test_reserve_refuses_a_slot_beyond_max_wait() -> None:
    now = Now()
    limiter = RateLimiter(upstream="Sentry", now=now)
    limiter.update(limit=100, remaining=1, reset_at=now.t + 50)
    assert limiter.reserve(max_wait=5) == 0.0
    assert limiter.reserve(max_wait=5) is None


def test_429_blocks_until_reset_then_allows() -> None:
    now = Now()
    limiter = RateLimiter(upstream="Datadog", now=now)
    limiter.block(reset_at=now.t + 23)
    assert limiter.blocked_for() == pytest.approx(23)
    assert limiter.reason() == "rate limited by Datadog for 23 s more"
    now.t += 22.5
    assert limiter.reason() == "rate limited by Datadog for 1 s more"
    now.t += 1
    assert limiter.blocked_for() == 0.0


def test_429_without_reset_uses_a_default_pause() -> None:
    now = Now()
    limiter = RateLimiter(upstream="Sentry", now=now)
    limiter.block(reset_at=None)
    assert limiter.blocked_for() == pytest.approx(60)
    limiter2 = RateLimiter(upstream="Sentry", now=now)
    limiter2.block(reset_at=now.t - 5)  # a reset already in the past (clock skew) still pauses
    assert limiter2.blocked_for() > 0


def test_exhausted_window_blocks_without_waiting_for_a_429() -> None:
    now = Now()
    limiter = RateLimiter(upstream="Sentry", now=now)
    limiter.update(limit=40, remaining=0, reset_at=now.t + 7)
    assert limiter.reason() == "rate limited by Sentry for 7 s more"
    now.t += 8
    assert limiter.blocked_for() == 0.0


def test_window_reset_ends_spacing() -> None:
    now = Now()
    limiter = RateLimiter(upstream="Datadog", now=now)
    limiter.update(limit=100, remaining=2, reset_at=now.t + 10)
    limiter.reserve()
    now.t += 11
    assert limiter.reserve() == 0.0


def test_header_lookup_ignores_case_and_bad_values() -> None:
    headers = {"x-ratelimit-remaining": "7", "X-RateLimit-Reset": "soon", "X-Big": "inf"}
    assert header(headers, "X-RateLimit-Remaining") == "7"
    assert header_float(headers, "X-RATELIMIT-REMAINING") == 7.0
    assert header_float(headers, "X-RateLimit-Reset") is None
    assert header_float(headers, "X-Big") is None
    assert header_float(None, "X-Anything") is None
