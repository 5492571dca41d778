"""Restarts that lose nothing: a good deploy whose daemon is SIGKILLed or SIGTERMed mid-window still passes.

The lease (60 s) outlasts the window (20 s), so a restart that waited for it would miss every later sample:
SIGKILL + restart under the same WATCHDOG_INSTANCE_ID takes the lease back at once; SIGTERM releases it,
so even a replacement with another name goes on at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.daemon import Daemon
from watchdog.demo.app import DemoApp

pytestmark = pytest.mark.slow

SAMPLES = 10  # 20 s / 2 s
LONG_LEASE = {"WATCHDOG_LEASE_SECONDS": "60"}


def write_config(root: Path, app: DemoApp) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text(
        yaml.safe_dump({"sources": {"app-metrics": {"type": "scrape", "url": f"{app.url}/metrics"}}})
    )
    checks: list[dict[str, Any]] = [
        {
            "name": "healthz",
            "type": "http",
            "url": f"{app.url}/healthz",
            "expect": {"status": 200, "json": {"version": "{{ version }}"}},
            "timeout": "1s",
        },
        {
            "name": "errors",
            "type": "error_rate",
            "source": "app-metrics",
            "errors": 'demo_requests_total{code="500"}',
            "requests": "demo_requests_total",
            "max": 0.05,
            "min_requests": 20,
        },
    ]
    timing = {"duration": "20s", "interval": "2s", "warmup": "2s", "failure_limit": 2, "min_conclusive": 0.5}
    policy = {
        "service": "shop",
        "defaults": {"verification": timing, "on_failure": "alert"},
        "environments": {"production": {"checks": checks}},
    }
    (config / "services" / "shop.yaml").write_text(yaml.safe_dump(policy))
    return config


@pytest.fixture
def app() -> Iterator[DemoApp]:
    with DemoApp(port=0, version="1.0.0", rps=300, seed=5).start() as a:
        yield a


def started_mid_window(tmp_path: Path, app: DemoApp, instance: str) -> tuple[Path, Daemon, str]:
    config = write_config(tmp_path, app)
    env = {**LONG_LEASE, "WATCHDOG_INSTANCE_ID": instance}
    first = Daemon(config=config, data=tmp_path / "data", env=env).start()
    dep = first.notify(service="shop", environment="production", version="1.0.0")
    first.wait_for(lambda: len(first.deployment(dep)["samples"]) >= 6, what="three samples", timeout=30)
    return config, first, dep


def assert_passed_without_a_lease_wait(final: dict[str, Any]) -> None:
    assert final["state"] == "passed", final["reasons"]
    for check in ("healthz", "errors"):
        ks = Counter(s["k"] for s in final["samples"] if s["check"] == check)
        assert max(ks.values()) == 1, f"duplicated samples of {check}: {ks}"
        # The restart costs the samples due while no process ran (a few seconds on a busy machine), never
        # the rest of the window: a restart that waited out the 60 s lease would miss all 7 after the kill.
        assert SAMPLES - len(ks) <= 4, f"{check}: only samples {sorted(ks)} of 1..{SAMPLES}"
        assert max(ks) == SAMPLES


def test_sigkill_and_restart_under_the_same_name_takes_the_lease_back(tmp_path: Path, app: DemoApp) -> None:
    config, first, dep = started_mid_window(tmp_path, app, "watchdog-0")
    first.kill()
    env = {**LONG_LEASE, "WATCHDOG_INSTANCE_ID": "watchdog-0"}
    again = Daemon(config=config, data=tmp_path / "data", env=env).start()
    try:
        assert_passed_without_a_lease_wait(again.wait_state(dep, {"passed", "failed", "inconclusive"}))
    finally:
        again.stop()


def test_sigterm_releases_the_leases_for_a_replacement(tmp_path: Path, app: DemoApp) -> None:
    config, first, dep = started_mid_window(tmp_path, app, "watchdog-old")
    first.stop()  # SIGTERM: drain, release the leases, exit 0
    assert first.proc is not None and first.proc.returncode == 0
    assert "released 1 leases of instance watchdog-old" in first.log.read_text()
    env = {**LONG_LEASE, "WATCHDOG_INSTANCE_ID": "watchdog-new"}
    replacement = Daemon(config=config, data=tmp_path / "data", env=env).start()
    try:
        assert_passed_without_a_lease_wait(replacement.wait_state(dep, {"passed", "failed", "inconclusive"}))
    finally:
        replacement.stop()
