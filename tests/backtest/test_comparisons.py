"""Backtests of checks compared with last week: the window seven days earlier is read from history too.

Skipped until the policy models know `compare_to` (the sequential-evidence work adds it).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.backtest.conftest import POLICY, Shop, write_config
from watchdog.backtest.build import Prepared
from watchdog.backtest.deploys import PastDeploy
from watchdog.backtest.history import HistoryFetcher
from watchdog.backtest.policyfile import load_policy
from watchdog.backtest.run import prepare_all, replay
from watchdog.policy.checks import BaselineLimits
from watchdog.sources.registry import build_source

WEEK = 604800.0


@pytest.mark.skipif(
    "compare_to" not in BaselineLimits.model_fields, reason="compare_to not in the models yet"
)
def test_last_week_is_read_from_history_beside_the_window(tmp_path: Path, shop: Shop) -> None:
    policy_text = POLICY.replace(
        "baseline: {max_ratio: 2, max_increase: 0.01}",
        "baseline: {max_ratio: 2, max_increase: 0.01, compare_to: last_week}",
    )
    config = write_config(
        tmp_path / "config",
        sources=f"  prom: {{type: prometheus, url: '{shop.prometheus.url}'}}\n",
        policy=policy_text,
    )
    policy_set, policy = load_policy(config=config, service="shop", environment="production")
    chosen = [d for d in shop.deploys if d.index in (12, 13, 15, 16)]  # each has a week of history behind it
    deploys = [PastDeploy(d.version, datetime.fromtimestamp(d.at, UTC), d.version, d.label) for d in chosen]
    fetcher = HistoryFetcher()

    async def go() -> list[Prepared]:
        source = build_source("prom", policy_set.daemon.sources["prom"])
        try:
            return list(
                await prepare_all(
                    deploys,
                    policy=policy,
                    sources={"prom": source},
                    service="shop",
                    environment="production",
                    now=datetime.now(UTC),
                    fetcher=fetcher,
                )
            )
        finally:
            await source.aclose()

    prepared = asyncio.run(go())
    # Fetches per deploy (each one query_range per role): errors this week and last week, p99 this week.
    assert fetcher.requests == len(deploys) * 3
    for p in prepared:
        times = p.data["errors"]["requests"].times
        assert times[0] == -WEEK - 1800 and any(-WEEK <= t < -WEEK + 1800 for t in times)
    rows = replay(prepared, policy)
    for d, row in zip(chosen, rows, strict=True):
        assert row.verdict is not None and row.verdict.value in d.allowed, (d, row)


@pytest.mark.skipif(
    "compare_to" not in BaselineLimits.model_fields, reason="compare_to not in the models yet"
)
def test_control_is_read_at_the_same_times_from_the_stable_versions_queries(
    tmp_path: Path, shop: Shop
) -> None:
    control = (
        'control: {errors: "sum(increase(http_requests_total{job=\\"shop-stable\\",code=~\\"5..\\"}[30s]))", '
        'requests: "sum(increase(http_requests_total{job=\\"shop-stable\\"}[30s]))"}\n        '
    )
    policy_text = POLICY.replace(
        "baseline: {max_ratio: 2, max_increase: 0.01}",
        control + "baseline: {max_ratio: 2, max_increase: 0.01, compare_to: control}",
    )
    config = write_config(
        tmp_path / "config",
        sources=f"  prom: {{type: prometheus, url: '{shop.prometheus.url}'}}\n",
        policy=policy_text,
    )
    policy_set, policy = load_policy(config=config, service="shop", environment="production")
    chosen = [d for d in shop.deploys if d.index in (2, 4, 5, 7, 8)]
    deploys = [PastDeploy(d.version, datetime.fromtimestamp(d.at, UTC), d.version, d.label) for d in chosen]
    fetcher = HistoryFetcher()

    async def go() -> list[Prepared]:
        source = build_source("prom", policy_set.daemon.sources["prom"])
        try:
            return list(
                await prepare_all(
                    deploys,
                    policy=policy,
                    sources={"prom": source},
                    service="shop",
                    environment="production",
                    now=datetime.now(UTC),
                    fetcher=fetcher,
                )
            )
        finally:
            await source.aclose()

    prepared = asyncio.run(go())
    first = prepared[0]
    assert first.why_not is None
    assert first.skipped == {
        "healthz": "not replayable: http probes keep no history and the deploy is not in the store"
    }
    # The first deploy has no earlier good one to name as stable: compared with `before`, no control data.
    assert set(first.data["errors"]) == {"errors", "requests"}
    for p in prepared[1:]:
        roles = p.data["errors"]
        assert set(roles) == {"errors", "requests", "control_errors", "control_requests"}
        assert min(roles["control_requests"].times) == 0.0
        assert all(v is not None for v in roles["control_requests"].values)
    rows = replay(prepared, policy)
    for d, row in zip(chosen, rows, strict=True):
        assert row.verdict is not None and row.verdict.value in d.allowed, (d, row)
