"""Alertmanager silences held during verification windows, against Debian's real Alertmanager.

In-process: the keeper creates a silence ending a little past the window, extends it while the
verification runs late, and expires it at the verdict. End to end: a real daemon holds one, expires it at
the verdict, and once SIGKILLed the silence lapses by itself at its end time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.daemon import Daemon
from tests.fakes.history import POLICY, seed
from tests.notify.alertmanager_server import Alertmanager, alertmanager
from watchdog.clock import FakeClock
from watchdog.demo.app import DemoApp
from watchdog.engine.silences import SilenceKeeper
from watchdog.notify.alertmanager import CREATED_BY, AlertmanagerNotifier
from watchdog.policy.loader import load_config_dir
from watchdog.store import Store

__all__ = ["alertmanager"]  # the fixture, imported for pytest
MATCHERS = ['alertname="HighErrorRate"', 'service=~"checkout.*"']


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def held(am: Alertmanager, deployment_id: str) -> list[dict[str, Any]]:
    return [s for s in am.silences() if s["createdBy"] == CREATED_BY and deployment_id in s["comment"]]


async def test_keeper_creates_extends_and_expires(tmp_path: Path, alertmanager: Alertmanager) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.upgrade()
    now = datetime.now(UTC)
    clock = FakeClock(now)
    policy = {**POLICY, "silence": {"alertmanager": "am", "matchers": MATCHERS}}
    # A 120 s window (4 samples of 30 s) that started 60 s ago, and one whose policy asks for no silence.
    dep = seed(
        store,
        service="checkout",
        environment="production",
        version="2.0",
        at=now - timedelta(seconds=60),
        outcome="verifying",
        policy=policy,
    )
    quiet = seed(store, service="checkout", environment="staging", version="2.0", at=now, outcome="verifying")
    am = AlertmanagerNotifier(name="am", url=alertmanager.url, margin_s=30, sync_every_s=1)
    keeper = SilenceKeeper(store=store, notifiers={"am": am}, clock=clock, owner="seed")
    try:
        await keeper.sync()
        [silence] = held(alertmanager, dep)
        assert silence["status"]["state"] == "active"
        assert abs((_at(silence["endsAt"]) - (now + timedelta(seconds=90))).total_seconds()) < 1
        assert [(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in silence["matchers"]] == [
            ("alertname", "HighErrorRate", False, True),
            ("service", "checkout.*", True, True),
        ]
        assert "checkout 2.0 in production" in silence["comment"]
        assert held(alertmanager, quiet) == []

        await keeper.sync()  # nothing changed: the same silence, the same end
        [same] = held(alertmanager, dep)
        assert same["id"] == silence["id"] and same["endsAt"] == silence["endsAt"]

        # 100 s later the window (over at +60 s) has passed but the verification still runs: extended.
        clock.advance(100)
        await keeper.sync()
        active = [s for s in held(alertmanager, dep) if s["status"]["state"] == "active"]
        assert len(active) == 1
        assert abs((_at(active[0]["endsAt"]) - (now + timedelta(seconds=130))).total_seconds()) < 1

        # The verdict: the next pass expires it.
        v = store.deploy_verification(dep)
        store.set_state(
            verification_id=v.id,
            to_state="passed",
            reason="verdict passed",
            now=clock.now(),
            verdict="passed",
        )
        await keeper.sync()
        assert {s["status"]["state"] for s in held(alertmanager, dep)} == {"expired"}
    finally:
        store.close()


def write_config(root: Path, app: DemoApp, am: Alertmanager) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    daemon = {
        "notifiers": {
            "am-test": {"type": "alertmanager", "url": am.url, "margin": "3s", "sync_every": "0.3s"}
        }
    }
    (config / "watchdog.yaml").write_text(yaml.safe_dump(daemon))
    service = {
        "service": "shop",
        "defaults": {
            "verification": {"duration": "5s", "interval": "1s", "warmup": "1s", "baseline_window": "1m"},
            "on_failure": "alert",
            "silence": {"alertmanager": "am-test", "matchers": ['alertname=~"Shop.*"', 'env="production"']},
        },
        "environments": {
            "production": {
                "checks": [{"name": "healthz", "type": "http", "url": f"{app.url}/healthz", "timeout": "1s"}]
            }
        },
    }
    (config / "services" / "shop.yaml").write_text(yaml.safe_dump(service))
    load_config_dir(config)  # the policy is valid, silence block included
    return config


def wait_for(what: str, cond: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = cond()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_daemon_holds_expires_and_a_killed_daemon_lets_the_silence_lapse(
    tmp_path: Path, alertmanager: Alertmanager
) -> None:
    with DemoApp(port=0, version="1.0.0", rps=200, seed=5).start() as app:
        daemon = Daemon(config=write_config(tmp_path, app, alertmanager), data=tmp_path / "data").start()
        try:
            first = daemon.notify(service="shop", environment="production", version="1.0.0")
            [silence] = wait_for("a silence", lambda: held(alertmanager, first))
            assert silence["status"]["state"] == "active"
            planned_end = _at(silence["endsAt"])
            dep = daemon.deployment(first)
            expected = _at(dep["deployed_at"]) + timedelta(seconds=5 + 3)
            assert abs((planned_end - expected).total_seconds()) < 1.5, (planned_end, expected)
            daemon.wait_state(first, {"passed"}, timeout=20)
            expired = wait_for(
                "the silence to expire at the verdict",
                lambda: [s for s in held(alertmanager, first) if s["status"]["state"] == "expired"],
                timeout=5,
            )
            # Expired by the daemon at the verdict, not lapsed: its end moved earlier than planned.
            assert _at(expired[0]["endsAt"]) < planned_end - timedelta(seconds=1)

            second = daemon.notify(service="shop", environment="production", version="1.0.0")
            [held_one] = wait_for("a second silence", lambda: held(alertmanager, second))
            daemon.kill()
            end = _at(held_one["endsAt"])
            assert alertmanager.silence(held_one["id"])["status"]["state"] == "active"
            # Nobody extends or expires it now: it lapses by itself at its end time.
            wait_for(
                "the silence to lapse",
                lambda: alertmanager.silence(held_one["id"])["status"]["state"] == "expired",
                timeout=(end - datetime.now(UTC)).total_seconds() + 5,
            )
            after = alertmanager.silence(held_one["id"])
            assert _at(after["endsAt"]) == end
            assert datetime.now(UTC) >= end
        finally:
            daemon.stop()
    assert httpx.get(f"{alertmanager.url}/-/healthy", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("silence", "message"),
    [
        ({"alertmanager": "am-nope", "matchers": ['alertname="X"']}, "unknown notifier 'am-nope'"),
        ({"alertmanager": "am-test", "matchers": ["alertname=X"]}, 'write name="value"'),
        ({"alertmanager": "am-test", "matchers": []}, "matchers must not be empty"),
    ],
)
def test_a_bad_silence_block_is_refused_with_its_line(
    tmp_path: Path, silence: dict[str, Any], message: str
) -> None:
    from watchdog.errors import ConfigError

    config = tmp_path / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text(
        yaml.safe_dump({"notifiers": {"am-test": {"type": "alertmanager", "url": "http://am:9093"}}})
    )
    doc = {
        "service": "shop",
        "defaults": {"on_failure": "alert", "silence": silence},
        "environments": {"production": {}},
    }
    (config / "services" / "shop.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as caught:
        load_config_dir(config)
    text = str(caught.value)
    assert message in text and "shop.yaml:" in text
