"""The dispatcher: background delivery that never blocks the caller, filtered by events, retried with
exponential backoff (the sleep is injected), failures logged redacted and counted.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from pydantic import SecretStr

from tests.conftest import KNOWN_SECRET
from tests.notify.receiver import receiver
from tests.notify.test_notifiers import SECRET, notification
from watchdog.notify.dispatcher import Dispatcher
from watchdog.notify.message import Notification
from watchdog.notify.webhook import WebhookNotifier
from watchdog.redact import REDACTOR
from watchdog.telemetry import Metrics


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def count(metrics: Metrics, notifier: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "watchdog_notifications_total", {"notifier": notifier, "outcome": outcome}
    )
    return value or 0.0


def hook(
    url: str,
    *,
    name: str = "hook",
    events: tuple[str, ...] = ("rolled_back", "failed"),
    secret: str | None = None,
) -> WebhookNotifier:
    return WebhookNotifier(name=name, url=url, events=events, secret=SecretStr(secret) if secret else None)


async def test_500_three_times_then_200_is_delivered_once() -> None:
    metrics, sleeps = Metrics(), Sleeps()
    with receiver(statuses=[500, 500, 500]) as rx:
        notifier = hook(rx.url, secret=SECRET)
        dispatcher = Dispatcher({"hook": notifier}, metrics=metrics, sleep=sleeps, attempts=4, base_delay=2)
        dispatcher.notify(names=["hook"], notification=notification())
        assert await dispatcher.drain(timeout=30) == 0
    assert len(rx.requests) == 4
    # The same message each time, under the same webhook-id, so a receiver can drop duplicates.
    assert len({json.dumps(r.json()["data"]) for r in rx.requests}) == 1
    assert len({r.headers["webhook-id"] for r in rx.requests}) == 1
    assert sleeps.calls == [2, 4, 8]
    assert count(metrics, "hook", "delivered") == 1
    assert count(metrics, "hook", "retried") == 3
    assert count(metrics, "hook", "failed") == 0


async def test_gives_up_after_the_last_attempt_and_on_a_permanent_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    REDACTOR.add(KNOWN_SECRET)
    metrics, sleeps = Metrics(), Sleeps()
    answer = f"bad token {KNOWN_SECRET}".encode()
    with receiver(default=503, answer=answer) as down, receiver(default=404, answer=answer) as gone:
        notifiers = {"down": hook(down.url, name="down"), "gone": hook(gone.url, name="gone")}
        dispatcher = Dispatcher(notifiers, metrics=metrics, sleep=sleeps, attempts=4)
        with caplog.at_level(logging.WARNING, logger="watchdog.notify.dispatcher"):
            dispatcher.notify(names=["down", "gone"], notification=notification())
            await dispatcher.drain(timeout=30)
    assert (len(down.requests), len(gone.requests)) == (4, 1)
    assert count(metrics, "down", "failed") == 1 and count(metrics, "gone", "failed") == 1
    assert "giving up" in caplog.text and "HTTP 404" in caplog.text
    assert KNOWN_SECRET not in caplog.text


async def test_events_filter_and_unknown_names() -> None:
    metrics = Metrics()
    with receiver() as rx:
        dispatcher = Dispatcher({"hook": hook(rx.url, events=("failed",))}, metrics=metrics, sleep=Sleeps())
        dispatcher.notify(names=["hook", "nobody"], notification=notification("passed"))
        dispatcher.notify(names=["hook", "hook"], notification=notification("failed"))
        await dispatcher.drain(timeout=30)
    assert [r.json()["type"] for r in rx.requests] == ["deploy.failed"]
    assert count(metrics, "nobody", "unknown") == 1


class Stuck:
    """A notifier whose endpoint never answers: the caller must not wait for it."""

    name = "stuck"
    events = frozenset({"rolled_back"})

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def send(self, n: Notification) -> None:
        self.started.set()
        await asyncio.Event().wait()


async def test_notify_returns_at_once_and_drain_cancels_what_is_left() -> None:
    stuck, metrics = Stuck(), Metrics()
    dispatcher = Dispatcher({"stuck": stuck}, metrics=metrics)
    dispatcher.notify(names=["stuck"], notification=notification())  # returns before any delivery ran
    assert dispatcher.pending == 1 and not stuck.started.is_set()
    await stuck.started.wait()
    assert await dispatcher.drain(timeout=0.01) == 1
    assert dispatcher.pending == 0
    assert count(metrics, "stuck", "cancelled") == 1
