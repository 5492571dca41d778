"""A real daemon pages, annotates and exports through the fakes as a bad deploy's story unfolds.

A freeze makes the automatic rollback refused (PagerDuty pages, a GitHub issue opens); an operator's
manual rollback then verifies (the page resolves, the same issue is updated in place, Grafana marks it).
A page opened before a restart is resolved by the next pass after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.daemon import ADMIN, Daemon
from tests.fakes.github_issues import FakeGitHubIssues
from tests.fakes.grafana import FakeGrafana
from tests.fakes.pagerduty import FakePagerDuty
from watchdog.demo.app import DemoApp
from watchdog.notify.github_issue import marker
from watchdog.notify.pagerduty import dedup_key

pytestmark = pytest.mark.slow
KEY = "0123456789abcdef0123456789ABCDEF"


def config(
    root: Path, *, app: DemoApp, pd: FakePagerDuty, gh: FakeGitHubIssues, grafana: FakeGrafana
) -> Path:
    cfg = root / "config"
    (cfg / "services").mkdir(parents=True)
    daemon = {
        "sources": {"app": {"type": "scrape", "url": f"{app.url}/metrics"}},
        "targets": {
            "demo": {"type": "webhook", "url": f"{app.url}/deploy", "body": {"version": "{{ version }}"}}
        },
        "notifiers": {
            "pd": {"type": "pagerduty", "url": pd.enqueue_url, "routing_key_env": "PD_KEY"},
            "gh": {
                "type": "github_issue",
                "api_url": gh.url,
                "repository": "acme/{{ service }}",
                "token_env": "GH_TOKEN",
                "assignees": ["oncall"],
            },
            "grafana": {"type": "grafana_annotation", "url": grafana.url, "token_env": "GRAFANA_TOKEN"},
        },
    }
    service = {
        "service": "shop",
        "defaults": {
            "verification": {"duration": "5s", "interval": "1s", "warmup": "1s", "baseline_window": "1m"},
            "rollback": {"verification": {"duration": "6s", "interval": "2s"}},
            "on_failure": "rollback",
            "target": "demo",
            "notify": ["pd", "gh", "grafana"],
        },
        "environments": {
            "production": {
                "checks": [
                    {"name": "healthz", "type": "http", "url": f"{app.url}/healthz", "timeout": "1s"},
                    {
                        "name": "errors",
                        "type": "error_rate",
                        "source": "app",
                        "errors": 'demo_requests_total{code=~"5.."}',
                        "requests": "demo_requests_total",
                        "max": 0.05,
                        "min_requests": 20,
                    },
                ]
            }
        },
    }
    (cfg / "watchdog.yaml").write_text(yaml.safe_dump(daemon))
    (cfg / "services" / "shop.yaml").write_text(yaml.safe_dump(service))
    return cfg


def wait_for(what: str, cond: Callable[[], object], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Stack:
    daemon: Daemon
    app: DemoApp
    pd: FakePagerDuty
    gh: FakeGitHubIssues
    grafana: FakeGrafana


@contextmanager
def stack(root: Path, *, seed: int) -> Iterator[Stack]:
    """The fakes, the demo service at 1.0.0 and a daemon paging, exporting and annotating through them."""
    pd = FakePagerDuty(routing_key=KEY).start()
    gh = FakeGitHubIssues(token="gh-token", repositories=["acme/shop"]).start()
    grafana = FakeGrafana(token="glsa-token").start()
    try:
        with DemoApp(port=0, version="1.0.0", rps=300, seed=seed).start() as app:
            env = {"PD_KEY": KEY, "GH_TOKEN": "gh-token", "GRAFANA_TOKEN": "glsa-token"}
            daemon = Daemon(
                config=config(root, app=app, pd=pd, gh=gh, grafana=grafana), data=root / "data", env=env
            )
            daemon.start()
            try:
                yield Stack(daemon, app, pd, gh, grafana)
            finally:
                daemon.stop()
    finally:
        pd.stop()
        gh.stop()
        grafana.stop()


ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def pass_then_freeze_then_fail(s: Stack) -> str:
    """1.0.0 passes; with rollbacks frozen, 1.1.0-bad fails and its automatic rollback is refused."""
    daemon = s.daemon
    good = daemon.notify(service="shop", environment="production", version="1.0.0")
    daemon.wait_state(good, {"passed"}, timeout=30)
    r = httpx.put(
        f"{daemon.url}/v1/freezes/shop/production", json={"reason": "release freeze"}, headers=ADMIN_HEADERS
    )
    assert r.status_code == 200, r.text
    s.app.deploy("1.1.0-bad")
    bad = daemon.notify(service="shop", environment="production", version="1.1.0-bad")
    daemon.wait_state(bad, {"failed"}, timeout=30)
    # The decision is the outbox's first action after the verdict: visible a moment later.
    daemon.wait_for(lambda: daemon.deployment(bad)["rollback"] is not None, what="the refusal", timeout=10)
    assert daemon.deployment(bad)["rollback"]["state"] == "refused"
    wait_for("the page", lambda: dedup_key(bad) in s.pd.incidents)
    assert s.pd.incidents[dedup_key(bad)].status == "triggered"
    return bad


def test_refused_rollback_pages_and_exports_then_a_manual_rollback_resolves(tmp_path: Path) -> None:
    with stack(tmp_path, seed=11) as s:
        daemon, pd, gh, grafana = s.daemon, s.pd, s.gh, s.grafana
        bad = pass_then_freeze_then_fail(s)
        wait_for("the issue", lambda: len(gh.issues["acme/shop"]) == 1)
        issue = gh.issues["acme/shop"][0]
        assert marker(bad) in issue["body"] and "rollbacks are frozen" in issue["body"]
        assert [a["login"] for a in issue["assignees"]] == ["oncall"]

        r = httpx.post(
            f"{daemon.url}/v1/deployments/{bad}/rollback", json={"reason": "by hand"}, headers=ADMIN_HEADERS
        )
        assert r.status_code == 202, r.text
        daemon.wait_state(bad, {"rolled_back"}, timeout=30)
        wait_for("the resolve", lambda: pd.incidents[dedup_key(bad)].status == "resolved")
        wait_for("the issue update", lambda: "rolled back" in gh.issues["acme/shop"][0]["title"])
        assert len(gh.issues["acme/shop"]) == 1  # updated in place, never a second issue
        assert [r.method for r in gh.requests][-1] == "PATCH"
        wait_for(
            "the rollback annotation",
            lambda: any("rollback" in a["tags"] for a in grafana.annotations),
        )
        kinds = [a["tags"][1] for a in grafana.annotations]
        assert kinds[:2] == ["deploy", "verdict"] and "rollback" in kinds
        assert all(a["text"] and "shop" in a["text"] for a in grafana.annotations)


def test_a_pass_after_a_restart_resolves_the_page_opened_before_it(tmp_path: Path) -> None:
    """The notifier's memory of open pages dies with its process; the store says which earlier deploys
    since the last pass may have paged, and the next pass resolves them."""
    with stack(tmp_path, seed=12) as s:
        daemon, pd = s.daemon, s.pd
        bad = pass_then_freeze_then_fail(s)
        daemon.stop()  # the process that opened the page is gone, and its memory with it
        daemon.start()
        assert pd.incidents[dedup_key(bad)].status == "triggered"
        r = httpx.delete(f"{daemon.url}/v1/freezes/shop/production", headers=ADMIN_HEADERS)
        assert r.status_code == 204, r.text
        s.app.deploy("1.0.1")
        fixed = daemon.notify(service="shop", environment="production", version="1.0.1")
        daemon.wait_state(fixed, {"passed"}, timeout=30)
        wait_for("the resolve", lambda: pd.incidents[dedup_key(bad)].status == "resolved")
        resolves = [r.body for r in pd.requests_of("POST") if r.body["event_action"] == "resolve"]
        # the good deploy before the bad one is not named: its pass was before the page
        assert [b["dedup_key"] for b in resolves] == [dedup_key(bad)]
