"""`watchdog backtest` through the Datadog and Sentry fakes: their history endpoints, pages and rate limits.

The same synthetic history as the Prometheus test; the fakes hold it around ten of the deploys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.backtest.conftest import Shop, write_config, write_deploys
from tests.backtest.synthetic import DD_ERRORS, DD_P99, DD_REQUESTS, History, load_datadog, load_sentry
from tests.fakes.datadog import FakeDatadog
from tests.fakes.ratewindow import RateWindow
from tests.fakes.sentry import FakeSentry
from watchdog.cli import main
from watchdog.policy.checks import ErrorRateCheck
from watchdog.policy.connections import DatadogSourceConfig
from watchdog.sources.base import SampleContext
from watchdog.sources.datadog import DatadogSource
from watchdog.sources.ranges import RangeValues, grid_of

CHOSEN = (1, 2, 3, 4, 5, 7, 10, 12, 13, 28)  # regressions big and small, low traffic, within tolerance

DATADOG_POLICY = f"""\
service: shop
defaults:
  verification: {{duration: 10m, interval: 30s, warmup: 60s, failure_limit: 2, baseline_window: 30m}}
  on_failure: alert
environments:
  production:
    checks:
      - {{name: errors, type: error_rate, source: dd, errors: "{DD_ERRORS}", requests: "{DD_REQUESTS}",
          max: 0.05, baseline: {{max_ratio: 2, max_increase: 0.01}}, min_requests: 100, confidence: 0.99}}
      - {{name: p99, type: latency, source: dd, query: "{DD_P99}", max: 1.0, baseline: {{max_ratio: 1.5}}}}
"""

SENTRY_POLICY = """\
service: shop
defaults:
  verification: {duration: 10m, interval: 30s, warmup: 60s, failure_limit: 2, baseline_window: 30m}
  on_failure: alert
environments:
  production:
    checks:
      - {name: errors, type: error_rate, source: sentry, errors: events, requests: transactions,
         max: 0.05, baseline: {max_ratio: 2, max_increase: 0.01}, min_requests: 100, confidence: 0.99}
"""


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WATCHDOG_DATABASE_URL", raising=False)
    monkeypatch.setenv("DD_API_KEY", "dd-api-key-for-tests")
    monkeypatch.setenv("DD_APP_KEY", "dd-app-key-for-tests")
    monkeypatch.setenv("SENTRY_TOKEN", "sentry-token-for-tests")


@pytest.fixture(scope="module")
def chosen(shop: Shop) -> History:
    deploys = [shop.deploys[i] for i in CHOSEN]
    return History(start=shop.history.start, end=shop.history.end, deploys=deploys, seed=shop.history.seed)


@pytest.fixture
def datadog(chosen: History) -> Iterator[FakeDatadog]:
    with FakeDatadog(api_key="dd-api-key-for-tests", app_key="dd-app-key-for-tests") as fake:
        load_datadog(fake, chosen)
        yield fake


@pytest.fixture
def sentry(chosen: History) -> Iterator[FakeSentry]:
    with FakeSentry(token="sentry-token-for-tests") as fake:
        load_sentry(fake, chosen)
        yield fake


def _backtest(
    tmp_path: Path, chosen: History, *, sources: str, policy: str, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, Any]]:
    config = write_config(tmp_path / "config", sources=sources, policy=policy)
    deploys = write_deploys(tmp_path / "deploys.jsonl", chosen.deploys)
    argv = ["backtest", "--service", "shop", "--environment", "production", "--config", str(config),
            "--deploys", str(deploys), "--json"]  # fmt: skip
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def _check_rows(lines: list[dict[str, Any]], chosen: History, *, blind: frozenset[str] = frozenset()) -> None:
    rows, summary = lines[:-1], lines[-1]["summary"]
    assert [r["version"] for r in rows] == [d.version for d in chosen.deploys]
    for d, row in zip(chosen.deploys, rows, strict=True):
        assert row["why_not"] is None, row
        # A regression the policy cannot see (latency, with only an errors check) is judged on errors alone.
        allowed = {"inconclusive", "passed"} if d.version in blind else d.allowed
        assert row["replayed_verdict"] in allowed, (d, row)
        assert (
            row["action"]
            == {"failed": "alert", "passed": "none", "inconclusive": "alert"}[row["replayed_verdict"]]
        )
    bad = sum(1 for d in chosen.deploys if d.label == "bad")
    assert summary["failed"] >= bad - len(blind) - 1  # the one below min_requests may slip
    assert summary["deploys"] == summary["replayed"] == summary["labelled"] == 10
    assert summary["false_rollbacks"] == 0 and summary["precision"] == 1.0
    assert summary["recall"] == round(summary["failed"] / bad, 4)
    assert summary["would_roll_back"] == 0  # on_failure: alert


def test_datadog_history_under_a_rate_limit(
    tmp_path: Path, chosen: History, datadog: FakeDatadog, capsys: pytest.CaptureFixture[str]
) -> None:
    datadog.window = RateWindow(limit=10, period=1.0)
    datadog.max_points = 300
    sources = (
        f"  dd: {{type: datadog, host: '{datadog.url}', api_key_env: DD_API_KEY, app_key_env: DD_APP_KEY}}\n"
    )
    lines = _backtest(tmp_path, chosen, sources=sources, policy=DATADOG_POLICY, capsys=capsys)
    _check_rows(lines, chosen)
    by_version = {r["version"]: r for r in lines[:-1]}
    assert "p99" in by_version["1.10.0"]["failed_checks"]
    # One request per check role and deploy (10 deploys x 3 queries), whatever the rate limit did: a
    # refused request alone is sent again after the wait. Only requests already queued were refused.
    window = datadog.window
    assert window.allowed == 30
    assert max(window.refused_per_window.values(), default=0) <= 8  # calls queued before the 429


def test_sentry_history_paged_and_rate_limited(
    tmp_path: Path, chosen: History, sentry: FakeSentry, capsys: pytest.CaptureFixture[str]
) -> None:
    sentry.window = RateWindow(limit=50, period=1.0)
    sentry.page_size = 25
    sentry.max_points = 10000
    sources = (
        f"  sentry: {{type: sentry, url: '{sentry.url}', organization: acme, project: shop, "
        "token_env: SENTRY_TOKEN}\n"
    )
    lines = _backtest(tmp_path, chosen, sources=sources, policy=SENTRY_POLICY, capsys=capsys)
    _check_rows(lines, chosen, blind=frozenset({"1.10.0"}))
    stats = [r for r in sentry.requests if r.path.endswith("/events-stats/")]
    # The baseline counts the whole project, the window only the new release, as the live source does.
    scoped = [r for r in stats if 'release:"' in (r.param("query") or "")]
    assert scoped and len(scoped) < len(stats)
    assert any(r.param("cursor") for r in stats), "long answers were followed page by page"
    # After a 429 nothing new is sent until the reset: only calls already queued (at most the backtest's
    # 8 concurrent fetches) may still arrive in that window.
    assert max(sentry.window.refused_per_window.values(), default=0) <= 8
    # 10 deploys x 2 roles x (3 pages of baseline + 1 of window), each sent once however often refused.
    assert sentry.window.allowed == 80


def test_datadog_pages_long_ranges_in_pieces(datadog: FakeDatadog, chosen: History) -> None:
    """A 700-interval range goes out as three requests, so Datadog never rolls it up past the interval."""
    import asyncio

    datadog.max_points = 300
    source = DatadogSource(
        "dd",
        DatadogSourceConfig(
            type="datadog", host=datadog.url, api_key_env="DD_API_KEY", app_key_env="DD_APP_KEY"
        ),
    )
    check = ErrorRateCheck(
        name="errors", type="error_rate", source="dd", errors=DD_ERRORS, requests=DD_REQUESTS
    )
    d = chosen.deploys[0]
    at = datetime.fromtimestamp(d.at, UTC)
    ctx = SampleContext("d", "v", "shop", "production", d.version, d.version, at)
    grid = grid_of(deployed_at=at, before=2400, after=1200, interval=15)  # 241 points at 15 s
    long_grid = grid_of(deployed_at=at, before=2400, after=1200, interval=5.0)  # 721 points at 5 s

    async def go() -> tuple[RangeValues, RangeValues]:
        try:
            return (await source.range_values(check, grid=grid, ctx=ctx),
                    await source.range_values(check, grid=long_grid, ctx=ctx))  # fmt: skip
        finally:
            await source.aclose()

    before = len(datadog.requests)
    short, long = asyncio.run(go())
    assert len(datadog.requests) - before == 2 + 2 * 3  # two roles; the long grid in three pieces each
    assert short.error is None and long.error is None
    values = short.values
    assert len(values["requests"]) == 241 and all(v is not None for v in values["requests"][1:])
