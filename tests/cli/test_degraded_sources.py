"""Degraded sources are visible: `watchdog check` names them, /readyz lists them, fail_start refuses to start.

A source whose secret is missing runs as an inconclusive stand-in; nobody should learn that from a verdict.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.daemon import Daemon

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("DD_API_KEY", "DD_APP_KEY", "SENTRY_TOKEN", "SLACK_WEBHOOK_URL")


def env_without_secrets() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("WATCHDOG_")}


def config(root: Path, *, on_missing: str) -> Path:
    (root / "services").mkdir(parents=True)
    (root / "watchdog.yaml").write_text(
        "sources:\n"
        "  dd: {type: datadog, site: datadoghq.com, api_key_env: DD_API_KEY, app_key_env: DD_APP_KEY}\n"
    )
    (root / "services" / "shop.yaml").write_text(
        "service: shop\n"
        "environments:\n"
        "  prod:\n"
        "    on_failure: alert\n"
        f"    on_missing_source: {on_missing}\n"
        "    checks:\n"
        "      - {name: p99, type: latency, source: dd, query: 'p99:trace.duration{*}', max: 1}\n"
    )
    return root


def test_check_names_the_degraded_sources_and_notifiers_of_the_shipped_config() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "watchdog", "check", str(ROOT / "config")],
        env=env_without_secrets(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = result.stderr.splitlines()
    datadog = next(w for w in warnings if w.startswith("warning: source datadog is degraded here"))
    assert "DD_API_KEY is not set" in datadog and "checkout/production p99" in datadog
    assert any(w.startswith("warning: source sentry is degraded here") for w in warnings)
    assert any(w.startswith("warning: notifier slack-sre is degraded here") for w in warnings)


def test_readyz_lists_a_degraded_source(tmp_path: Path) -> None:
    daemon = Daemon(config=config(tmp_path / "config", on_missing="degrade"), data=tmp_path / "data")
    full = daemon.env()
    # The daemon's environment without the secrets: its method replaced, on purpose.
    daemon.env = lambda: {k: v for k, v in full.items() if k not in SECRETS}  # type: ignore[method-assign]
    daemon.start()
    try:
        answer = httpx.get(f"{daemon.url}/readyz", timeout=5)
    finally:
        daemon.stop()
    assert answer.status_code == 200  # still ready: other checks verify
    body = answer.json()
    assert body["ready"] is True
    (entry,) = body["degraded_sources"]
    assert entry["name"] == "dd" and "DD_API_KEY is not set" in entry["reason"]


def test_fail_start_refuses_to_start_and_check_says_so(tmp_path: Path) -> None:
    root = config(tmp_path / "config", on_missing="fail_start")
    env = {**env_without_secrets(), "WATCHDOG_DATA_DIR": str(tmp_path / "data")}
    checked = subprocess.run(
        [sys.executable, "-m", "watchdog", "check", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0
    assert (
        "warning: the daemon would not start here: shop/prod has on_missing_source: fail_start"
        in checked.stderr
    )
    served = subprocess.run(
        [sys.executable, "-m", "watchdog", "serve", "--config", str(root), "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = served.stdout + served.stderr
    assert served.returncode == 1, out
    assert "shop/prod has on_missing_source: fail_start and its checks need source dd" in out
    assert "the daemon did not start" in out and "listening" not in out and "Traceback" not in out
