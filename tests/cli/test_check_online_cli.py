"""`watchdog check --online` as a process: the shipped-style config against a live demo service.

One line per check; exit 0 when every query answers, 1 when one does not.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import free_port
from watchdog.demo import DemoApp


def write(root: Path, *, metrics_url: str, health_url: str) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text(
        yaml.safe_dump({"sources": {"app": {"type": "scrape", "url": metrics_url}}})
    )
    (config / "services" / "shop.yaml").write_text(
        yaml.safe_dump(
            {
                "service": "shop",
                "defaults": {"on_failure": "alert"},
                "environments": {
                    "production": {
                        "checks": [
                            {"name": "healthz", "type": "http", "url": health_url},
                            {
                                "name": "errors",
                                "type": "error_rate",
                                "source": "app",
                                "errors": 'demo_requests_total{code="500"}',
                                "requests": "demo_requests_total",
                                "max": 0.05,
                            },
                        ]
                    }
                },
            }
        )
    )
    return config


def check_online(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchdog", "check", str(config), "--online"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_online_check_reports_each_query(tmp_path: Path) -> None:
    with DemoApp(port=0, rps=200, seed=1) as app:
        ok = check_online(
            write(tmp_path / "ok", metrics_url=f"{app.url}/metrics", health_url=f"{app.url}/healthz")
        )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "shop/production healthz: ok" in ok.stdout
    assert "shop/production errors: ok" in ok.stdout


def test_online_check_fails_when_a_source_does_not_answer(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    bad = check_online(write(tmp_path / "bad", metrics_url=f"{dead}/metrics", health_url=f"{dead}/healthz"))
    assert bad.returncode == 1
    assert "shop/production healthz: ERROR" in bad.stdout and "connection refused" in bad.stdout
    assert "shop/production errors: ERROR" in bad.stdout
