"""PagerDuty paging, the GitHub issue export and Grafana annotations against loopback fakes of their APIs.

Each fake (tests/fakes/) checks the request shape the real API documents; these tests assert dedup per
deployment, resolve on a later pass, and one issue updated in place as the report changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.fakes.github_issues import FakeGitHubIssues
from tests.fakes.grafana import FakeGrafana
from tests.fakes.pagerduty import FakePagerDuty
from watchdog.clock import FakeClock
from watchdog.errors import ConfigError
from watchdog.notify.base import NotifyError
from watchdog.notify.github_issue import GitHubIssueNotifier, Route, marker
from watchdog.notify.grafana import GrafanaAnnotationNotifier
from watchdog.notify.message import Notification
from watchdog.notify.pagerduty import PagerDutyNotifier, dedup_key
from watchdog.notify.registry import build_notifiers
from watchdog.policy.connections import DaemonConfig, NotifyEvent

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
TOKEN = "gh-token-value"


def note(event: NotifyEvent, *, dep: str = "dep-1", env: str = "production", **fields: Any) -> Notification:
    base = Notification(
        event=event,
        service="checkout",
        environment=env,
        version="2.4.1",
        deployment_id=dep,
        state=event,
        verdict="failed" if event in ("failed", "rolled_back", "rollback_failed") else event,
        summary="error rate rose from 0.4% to 6.1% (limit 2.0%) 90 s after checkout 2.4.1 reached production",
        checks=("errors: 2/3 failing",),
        report_url=f"https://watchdog.example/v1/incidents/{dep}",
        artifact="registry.example/checkout@sha256:2222",
    )
    return replace(base, **fields)


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    fake = FakePagerDuty(routing_key=KEY).start()
    yield fake
    fake.stop()


def _pd(fake: FakePagerDuty, **kw: Any) -> PagerDutyNotifier:
    return PagerDutyNotifier(
        name="pd",
        routing_key=SecretStr(KEY),
        events=["passed", "failed", "inconclusive", "rolled_back", "rollback_failed"],
        url=fake.enqueue_url,
        **kw,
    )


async def test_failed_rollback_pages_once_per_deployment_and_a_pass_resolves(
    pagerduty: FakePagerDuty,
) -> None:
    pd = _pd(pagerduty)
    await pd.send(note("rollback_failed", dep="dep-1"))
    await pd.send(note("rollback_failed", dep="dep-1"))  # a repeat (retry, restart): same incident
    assert list(pagerduty.incidents) == [dedup_key("dep-1")]
    incident = pagerduty.incidents[dedup_key("dep-1")]
    assert incident.status == "triggered" and len(incident.events) == 2
    sent = incident.events[0]
    assert sent["payload"]["severity"] == "critical" and sent["payload"]["component"] == "checkout"
    assert sent["links"] == [{"href": "https://watchdog.example/v1/incidents/dep-1", "text": "Post-mortem"}]
    assert "roll back by hand" in sent["payload"]["summary"]
    # A refused automatic rollback pages; a failed verdict whose rollback went ahead does not.
    await pd.send(note("failed", dep="dep-2", rollback_state="refused", rollback_trigger="auto"))
    await pd.send(note("failed", dep="dep-3", rollback_state="intent", rollback_trigger="auto"))
    await pd.send(note("inconclusive", dep="dep-4"))
    assert sorted(pagerduty.incidents) == [dedup_key("dep-1"), dedup_key("dep-2")]
    # A pass in another environment resolves nothing; a later pass of the same pair resolves both.
    await pd.send(note("passed", dep="dep-9", env="staging"))
    assert {i.status for i in pagerduty.incidents.values()} == {"triggered"}
    await pd.send(note("passed", dep="dep-5"))
    assert {k: i.status for k, i in pagerduty.incidents.items()} == {
        dedup_key("dep-1"): "resolved",
        dedup_key("dep-2"): "resolved",
    }
    resolves = [r.body for r in pagerduty.requests_of("POST") if r.body["event_action"] == "resolve"]
    assert resolves == [
        {"routing_key": KEY, "event_action": "resolve", "dedup_key": dedup_key("dep-1")},
        {"routing_key": KEY, "event_action": "resolve", "dedup_key": dedup_key("dep-2")},
    ]
    assert pd.open == {("checkout", "production"): set()}


async def test_a_fresh_process_resolves_the_pages_its_notification_names(pagerduty: FakePagerDuty) -> None:
    """After a restart the notifier remembers nothing; the pass names the earlier deploys that may have
    paged (the announcer reads them from the store) and each is resolved; one that never paged is a no-op."""
    await _pd(pagerduty).send(note("rollback_failed", dep="dep-1"))
    fresh = _pd(pagerduty)
    assert fresh.open == {}
    await fresh.send(note("passed", dep="dep-5", paged_before=("dep-3", "dep-1")))
    assert pagerduty.incidents[dedup_key("dep-1")].status == "resolved"
    assert dedup_key("dep-3") not in pagerduty.incidents
    resolves = [
        r.body["dedup_key"] for r in pagerduty.requests_of("POST") if r.body["event_action"] == "resolve"
    ]
    assert resolves == [dedup_key("dep-1"), dedup_key("dep-3")]


async def test_inconclusive_pages_when_the_policy_says_so(pagerduty: FakePagerDuty) -> None:
    pd = _pd(pagerduty, page_on_inconclusive=True, severity="warning")
    await pd.send(note("inconclusive", dep="dep-7"))
    assert pagerduty.incidents[dedup_key("dep-7")].events[0]["payload"]["severity"] == "warning"
    # An operator's manual rollback of the deploy later verifies: its own page resolves.
    await pd.send(note("rolled_back", dep="dep-7"))
    assert pagerduty.incidents[dedup_key("dep-7")].status == "resolved"


async def test_a_bad_event_is_not_retried(pagerduty: FakePagerDuty) -> None:
    pd = PagerDutyNotifier(
        name="pd", routing_key=SecretStr("short"), events=["rollback_failed"], url=pagerduty.enqueue_url
    )
    with pytest.raises(NotifyError) as caught:
        await pd.send(note("rollback_failed"))
    assert not caught.value.retryable and "routing_key" in str(caught.value)
    assert pagerduty.incidents == {}


@pytest.fixture
def github() -> Iterator[FakeGitHubIssues]:
    fake = FakeGitHubIssues(token=TOKEN, repositories=["acme/checkout", "acme/payments-api"]).start()
    yield fake
    fake.stop()


def _gh(fake: FakeGitHubIssues, **kw: Any) -> GitHubIssueNotifier:
    return GitHubIssueNotifier(
        name="gh",
        token=SecretStr(TOKEN),
        repository="acme/{{ service }}",
        events=["failed", "rolled_back"],
        api_url=fake.url,
        labels=["deploy-watchdog", "post-mortem"],
        assignees=["oncall-checkout"],
        **kw,
    )


async def test_post_mortem_issue_is_opened_once_and_updated_in_place(
    github: FakeGitHubIssues, tmp_path: Path
) -> None:
    report = tmp_path / "2026-11-01-checkout-production-2.4.1.md"
    report.write_text(
        "# checkout 2.4.1 in production: failed\n\nrolling back to 2.4.0\n\n"
        "![errors: samples](x-errors.svg)\n"
    )
    gh = _gh(github)
    await gh.send(note("failed", report_path=str(report)))
    [issue] = github.issues["acme/checkout"]
    assert issue["number"] == 1 and issue["title"].startswith("Post-mortem: checkout 2.4.1")
    assert [lab["name"] for lab in issue["labels"]] == ["deploy-watchdog", "post-mortem"]
    assert [a["login"] for a in issue["assignees"]] == ["oncall-checkout"]
    assert marker("dep-1") in issue["body"] and "rolling back to 2.4.0" in issue["body"]
    assert "(https://watchdog.example/v1/incidents/dep-1)" in issue["body"]
    assert (
        "x-errors.svg" not in issue["body"] and "_Chart (errors: samples): see [the report]" in issue["body"]
    )

    report.write_text("# checkout 2.4.1 in production: rolled back\n\nrolled back to 2.4.0 in 38 s\n")
    await gh.send(note("rolled_back", report_path=str(report)))
    assert len(github.issues["acme/checkout"]) == 1
    assert "rolled back to 2.4.0 in 38 s" in github.issues["acme/checkout"][0]["body"]
    assert [r.method for r in github.requests] == ["GET", "POST", "PATCH"]

    # Another process: the number comes from beside the report; without that file, from the marker.
    again = _gh(github)
    await again.send(note("rolled_back", report_path=str(report)))
    Path(str(report) + ".github-issue.json").unlink()
    third = _gh(github)
    await third.send(note("rolled_back", report_path=str(report)))
    assert len(github.issues["acme/checkout"]) == 1
    assert [r.method for r in github.requests][3:] == ["PATCH", "GET", "PATCH"]


async def test_issue_routes_per_service(github: FakeGitHubIssues) -> None:
    gh = _gh(github, services={"payments": Route("acme/payments-api", ("incident",), ())})
    await gh.send(note("failed", service="payments"))
    [issue] = github.issues["acme/payments-api"]
    assert [lab["name"] for lab in issue["labels"]] == ["incident"] and issue["assignees"] == []
    assert github.issues["acme/checkout"] == []
    bad = GitHubIssueNotifier(
        name="gh", token=SecretStr("wrong"), repository="acme/checkout", events=["failed"], api_url=github.url
    )
    with pytest.raises(NotifyError) as caught:
        await bad.send(note("failed", dep="dep-x"))
    assert "401" in str(caught.value) and not caught.value.retryable
    assert "wrong" not in str(caught.value)


async def test_grafana_marks_deploy_verdict_and_rollback() -> None:
    fake = FakeGrafana(token="glsa_token").start()
    try:
        clock = FakeClock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
        g = GrafanaAnnotationNotifier(
            name="grafana",
            url=fake.url,
            token=SecretStr("glsa_token"),
            events=["started", "failed", "rolled_back"],
            dashboard_uid="checkout-overview",
            tags=["team:payments"],
            clock=clock,
        )
        await g.send(note("started"))
        clock.advance(90)
        await g.send(note("failed"))
        clock.advance(38)
        await g.send(note("rolled_back"))
        kinds = [a["tags"][1] for a in fake.annotations]
        assert kinds == ["deploy", "verdict", "rollback"]
        first = fake.annotations[0]
        assert first["time"] == int(datetime(2026, 11, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)
        assert fake.annotations[2]["time"] - first["time"] == 128_000
        assert first["dashboardUID"] == "checkout-overview"
        assert {"service:checkout", "environment:production", "team:payments"} <= set(first["tags"])
        nobody = GrafanaAnnotationNotifier(name="g", url=fake.url, token=None, events=["started"])
        with pytest.raises(NotifyError):
            await nobody.send(note("started"))
    finally:
        fake.stop()


def test_registry_builds_the_new_notifiers() -> None:
    daemon = DaemonConfig.model_validate(
        {
            "notifiers": {
                "pd": {"type": "pagerduty", "routing_key_env": "PD_KEY", "page_on_inconclusive": True},
                "gh": {"type": "github_issue", "repository": "acme/{{ service }}", "token_env": "GH_TOKEN"},
                "graf": {"type": "grafana_annotation", "url": "http://grafana:3000", "token_env": "GRAFANA"},
                "am": {"type": "alertmanager", "url": "http://am:9093", "margin": "30s"},
            }
        }
    )
    built = build_notifiers(
        daemon, environ={"PD_KEY": KEY, "GH_TOKEN": TOKEN, "GRAFANA": "grafana-token-for-tests"}
    )
    assert sorted(built) == ["am", "gh", "graf", "pd"]
    assert "rollback_failed" in built["pd"].events and "started" in built["graf"].events
    assert built["am"].events == frozenset()
    with pytest.raises(ConfigError, match="environment variable PD_KEY is not set"):
        build_notifiers(daemon, environ={"GH_TOKEN": TOKEN})
