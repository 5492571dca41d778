"""The daemon as a process: a real app on loopback, scrape and http sources, a SIGKILL mid-window.

The app raises its own error rate when told it runs a `bad` version; the rules say at which sample it fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.daemon import Daemon
from watchdog.demo.app import DemoApp

pytestmark = pytest.mark.slow


def write_config(root: Path, app: DemoApp, *, duration: str = "8s") -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text(
        yaml.safe_dump({"sources": {"app-metrics": {"type": "scrape", "url": f"{app.url}/metrics"}}})
    )
    (config / "services" / "shop.yaml").write_text(
        yaml.safe_dump(
            {
                "service": "shop",
                "defaults": {
                    "verification": {
                        "duration": duration,
                        "interval": "1s",
                        "warmup": "1s",
                        "failure_limit": 2,
                        "min_conclusive": 0.6,
                        "baseline_window": "1m",
                    },
                    "on_failure": "alert",
                },
                "environments": {
                    "production": {
                        "checks": [
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
                    }
                },
            }
        )
    )
    return config


@pytest.fixture
def app() -> Iterator[DemoApp]:
    with DemoApp(port=0, version="1.0.0", rps=300, seed=7).start() as a:
        yield a


def test_bad_deploy_fails_at_the_sample_the_rules_predict(tmp_path: Path, app: DemoApp) -> None:
    daemon = Daemon(config=write_config(tmp_path, app), data=tmp_path / "data").start()
    try:
        good = daemon.notify(service="shop", environment="production", version="1.0.0")
        passed = daemon.wait_state(good, {"passed", "failed", "inconclusive"}, timeout=40)
        assert passed["state"] == "passed", passed["reasons"]
        assert passed["decided_after_s"] == 8.0

        app.deploy("1.1.0-bad")  # the new version serves 30% errors from now on
        bad = daemon.notify(service="shop", environment="production", version="1.1.0-bad")
        failed = daemon.wait_state(bad, {"passed", "failed", "inconclusive"}, timeout=40)
        # t=1s is warm-up; t=2s and t=3s fail; failure_limit 2 -> failed at the sample at t=3s.
        assert failed["state"] == "failed"
        assert failed["decided_after_s"] == 3.0
        assert failed["failed_checks"] == ["errors"]
        errors = [s for s in failed["samples"] if s["check"] == "errors" and not s["warmup"]]
        assert [s["outcome"] for s in errors] == ["fail", "fail"]
        assert "error rate" in errors[-1]["reason"] and "> limit 5.0%" in errors[-1]["reason"]
        healthz = [s for s in failed["samples"] if s["check"] == "healthz" and not s["warmup"]]
        assert all(s["outcome"] == "pass" for s in healthz)  # the new version is the one serving
    finally:
        daemon.stop()
    assert daemon.proc is not None and daemon.proc.returncode == 0  # SIGTERM drains and exits cleanly


def test_sigkill_mid_window_resumes_without_duplicates(tmp_path: Path, app: DemoApp) -> None:
    # 20 s at 1 s: the replacement waits out the lease and starts on a busy machine, missing up to ~7 samples
    # (gaps); the window still holds the 60% conclusive that a pass needs.
    config = write_config(tmp_path, app, duration="20s")
    daemon = Daemon(config=config, data=tmp_path / "data").start()
    dep = daemon.notify(service="shop", environment="production", version="1.0.0")
    daemon.wait_for(lambda: len(daemon.deployment(dep)["samples"]) >= 6, what="three samples", timeout=20)
    daemon.kill()
    # A replacement under another name: it waits out the dead process's lease, so samples are missed.
    restarted = Daemon(config=config, data=tmp_path / "data", env={"WATCHDOG_INSTANCE_ID": "replacement"})
    restarted.port, restarted.url = daemon.port, daemon.url
    restarted.start()
    try:
        final = restarted.wait_state(dep, {"passed", "failed", "inconclusive"}, timeout=40)
        assert final["state"] == "passed", final["reasons"]
        for check in ("healthz", "errors"):
            ks = Counter(s["k"] for s in final["samples"] if s["check"] == check)
            assert ks and max(ks.values()) == 1, f"duplicated samples of {check}: {ks}"
        reasons = [t["reason"] for t in final["transitions"]]
        assert any(r.startswith("gap:") and "not invented" in r for r in reasons), reasons
    finally:
        restarted.stop()
