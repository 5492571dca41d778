"""The shared HTTP-resilience rules as tables: retryable statuses, Retry-After on one clock, backoff, loop.

Sources, targets and notifiers all decide through these; their own tests show the behaviour on the wire.
"""

from __future__ import annotations

import pytest

from watchdog.resilience import (
    Backoff,
    ErrorKind,
    Retry,
    retry_after,
    retryable_status,
    status_kind,
    with_retries,
)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (408, True),
        (425, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (501, False),
        (505, False),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
    ],
)
def test_one_rule_for_retryable_statuses(status: int, retryable: bool) -> None:
    assert retryable_status(status) is retryable


def test_status_kinds_are_typed() -> None:
    assert status_kind(429) is ErrorKind.RATE_LIMITED and status_kind(503) is ErrorKind.HTTP_5XX
    assert status_kind(404) == "http_4xx"  # a StrEnum: metric labels and old comparisons keep working


def test_retry_after_on_one_clock() -> None:
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after": "-3"}) == 0.0
    assert retry_after({}) is None and retry_after({"retry-after": "soon"}) is None
    date = "Sun, 01 Nov 2026 12:00:30 GMT"
    # Against the answer's own Date header when there is one (the server's clock)...
    assert retry_after({"retry-after": date, "date": "Sun, 01 Nov 2026 12:00:00 GMT"}) == 30.0
    # ... else against the caller's clock.
    noon = 1793534400.0  # 2026-11-01T12:00:00Z
    assert retry_after({"retry-after": date}, now=lambda: noon + 10) == 20.0


def test_backoff_grows_is_capped_and_jitters_within_bounds() -> None:
    plain = Backoff(attempts=6, base=1.0, factor=2.0, max_delay=5.0)
    assert [plain.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = Backoff(base=2.0, jitter=1.0)
    assert jittered.delay(1, rand=lambda: 0.0) == 1.0 and jittered.delay(1, rand=lambda: 0.999) < 3.0


async def test_loop_retries_what_may_heal_and_honours_hints() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("refused")
        return "ok"

    backoff = Backoff(attempts=4, base=1.0, max_delay=10.0)
    done = await with_retries(flaky, backoff=backoff, retry_on=lambda e: Retry(after=4.0), sleep=sleep)
    assert (done.value, done.attempts, sleeps) == ("ok", 3, [4.0, 4.0])

    async def hinted() -> str:
        raise ConnectionError("429")

    sleeps.clear()
    with pytest.raises(ConnectionError):
        await with_retries(hinted, backoff=backoff, retry_on=lambda e: Retry(after=3600), sleep=sleep)
    assert sleeps == [10.0, 10.0, 10.0]  # wait_max: bounded, and still trying
    sleeps.clear()
    give_up = Backoff(attempts=4, max_delay=10.0, long_hint="give_up")
    with pytest.raises(ConnectionError):
        await with_retries(hinted, backoff=give_up, retry_on=lambda e: Retry(after=3600), sleep=sleep)
    assert sleeps == []
    with pytest.raises(ConnectionError):  # no wait may end past the deadline
        await with_retries(
            hinted, backoff=backoff, retry_on=lambda e: Retry(), sleep=sleep, deadline=5.5, clock=lambda: 5.0
        )
    with pytest.raises(ValueError):  # what retry_on refuses is raised at once
        await with_retries(
            lambda: _raise(ValueError()), backoff=backoff, retry_on=lambda e: None, sleep=sleep
        )


async def _raise(exc: Exception) -> str:
    raise exc
