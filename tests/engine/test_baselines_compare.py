"""What baseline capture asks a source for under each compare_to: last_week, its fallback, and control.

A small in-test source records each history request and answers from a table; the store is real SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.sources.helpers import check
from watchdog.analysis.models import Baseline, Measurement
from watchdog.engine import baselines
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.store import Store

DEPLOY = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class HistorySource(Source):
    """Answers history for windows that start at one of `have` (None otherwise); records every request."""

    name = "hist"

    def __init__(self, have: dict[datetime, Baseline]) -> None:
        self.have = have
        self.asked: list[tuple[str, datetime, datetime]] = []

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        return Measurement(error="not used")

    async def history(
        self, check: AnyCheck, *, start: datetime, end: datetime, interval: float, ctx: SampleContext
    ) -> Baseline | None:
        query = getattr(check, "errors", "") or getattr(check, "query", "")
        self.asked.append((query, start, end))
        return self.have.get(start)

    async def aclose(self) -> None:
        pass


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    s.upgrade()
    return s


def ctx() -> SampleContext:
    return SampleContext(
        deployment_id="d1",
        verification_id="v1",
        service="app",
        environment="prod",
        version="2.0.0",
        artifact="a2",
        deployed_at=DEPLOY,
    )


def errors_check(**extra: Any) -> AnyCheck:
    return check(
        name="errors",
        type="error_rate",
        source="hist",
        errors="own",
        requests="own_r",
        confidence=0.95,
        **extra,
    )


BASE = Baseline(values={"errors": [1.0, 2.0], "requests": [100.0, 100.0]})


async def capture(store: Store, source: HistorySource, c: AnyCheck) -> Baseline | None:
    found = await baselines.capture(
        store=store, sources={"hist": source}, checks=[c], ctx=ctx(), window=1800.0, interval=30.0
    )
    return found["errors"]


async def test_last_week_reads_the_same_span_seven_days_earlier(store: Store) -> None:
    week = DEPLOY - timedelta(days=7)
    source = HistorySource({week: BASE})
    got = await capture(store, source, errors_check(baseline={"compare_to": "last_week", "max_ratio": 1.5}))
    assert got is not None and got.origin.startswith("last week")
    assert source.asked == [("own", week, week + timedelta(seconds=1800))]


async def test_last_week_without_history_falls_back_to_before_and_says_so(store: Store) -> None:
    before = DEPLOY - timedelta(seconds=1800)
    source = HistorySource({before: BASE})
    got = await capture(store, source, errors_check(baseline={"compare_to": "last_week", "max_ratio": 1.5}))
    assert got is not None and got.origin == "before: last week's history missing"
    assert [a[1] for a in source.asked] == [DEPLOY - timedelta(days=7), before]


async def test_control_baseline_is_the_stable_versions_history(store: Store) -> None:
    """The check's own queries name the new version, which had no traffic before: ask the control's."""
    before = DEPLOY - timedelta(seconds=1800)
    source = HistorySource({before: BASE})
    c = errors_check(
        baseline={"compare_to": "control", "max_ratio": 1.5},
        control={"errors": "stable", "requests": "stable_r"},
    )
    got = await capture(store, source, c)
    assert got is BASE
    assert source.asked == [("stable", before, DEPLOY)]
