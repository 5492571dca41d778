"""`watchdog check --online` against loopback services: one line per check, exit 1 when any fails.

The demo app answers http and scrape checks; a scripted fake Prometheus answers the PromQL ones.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import free_port
from tests.fakes.prometheus_server import FakePrometheus, vector
from watchdog.cli.check_online import run_online_checks
from watchdog.demo import DemoApp
from watchdog.policy.connections import DaemonConfig
from watchdog.policy.loader import PolicySet
from watchdog.policy.service import ServiceFile


@pytest.fixture
def app() -> Iterator[DemoApp]:
    with DemoApp(port=0, rps=200, seed=3) as demo:
        yield demo


@pytest.fixture
def prom() -> Iterator[FakePrometheus]:
    with FakePrometheus() as fake:
        fake.answers["sum(errors)"] = vector(0.0123)
        fake.answers["sum(requests)"] = vector(1000)
        fake.answers["lag"] = vector(1, 2, 3)
        yield fake


def policy_set(*, prom: str, app: str, checks: list[dict[str, Any]]) -> PolicySet:
    daemon = DaemonConfig.model_validate(
        {
            "sources": {
                "prom": {"type": "prometheus", "url": prom, "retries": 0},
                "app": {"type": "scrape", "url": app + "/metrics"},
            }
        }
    )
    service = ServiceFile.model_validate(
        {"service": "checkout", "environments": {"production": {"checks": checks}}}
    )
    return PolicySet(daemon=daemon, services={"checkout": service})


def run(ps: PolicySet) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_online_checks(ps, out=out)
    return code, out.getvalue().splitlines()


def test_all_ok(app: DemoApp, prom: FakePrometheus) -> None:
    checks = [
        {"name": "healthz", "type": "http", "url": app.url + "/healthz"},
        {"name": "ratio", "type": "metric", "source": "prom", "query": "sum(errors)"},
        {
            "name": "errors",
            "type": "error_rate",
            "source": "prom",
            "errors": "sum(errors)",
            "requests": "sum(requests)",
        },
        {"name": "reqs", "type": "metric", "source": "app", "query": "demo_requests_total"},
    ]
    code, lines = run(policy_set(prom=prom.url, app=app.url, checks=checks))
    assert code == 0, lines
    assert lines[0].startswith("checkout/production healthz: ok, up, ")
    assert lines[1] == "checkout/production ratio: ok, 1 series, value 0.0123"
    assert lines[2] == "checkout/production errors: ok, 1 series each, errors 0.0123, requests 1000"
    assert lines[3].startswith("checkout/production reqs: ok, value ")
    assert prom.paths("/api/v1/query")[0].param("query") == "sum(errors)"


def test_failures_are_reported_and_exit_1(app: DemoApp, prom: FakePrometheus) -> None:
    checks: list[dict[str, Any]] = [
        {"name": "lag", "type": "metric", "source": "prom", "query": "lag"},
        {"name": "empty", "type": "metric", "source": "prom", "query": "nothing_here"},
        {"name": "down", "type": "http", "url": f"http://127.0.0.1:{free_port()}/healthz"},
        {
            "name": "version",
            "type": "http",
            "url": app.url + "/healthz",
            "expect": {"json": {"version": "{{ version }}"}},
        },
        {"name": "gone", "type": "metric", "source": "app", "query": "nope_total"},
    ]
    code, lines = run(policy_set(prom=prom.url, app=app.url, checks=checks))
    assert code == 1
    assert lines == [
        "checkout/production lag: ERROR query returns 3 series; aggregate it (e.g. sum(...))",
        "checkout/production empty: ERROR no data",
        "checkout/production down: ERROR connection refused",
        "checkout/production version: ERROR json version is '1.0.0', expected 'online-check'",
        "checkout/production gone: ERROR no metric named nope_total in the exposition",
    ]


def test_unreachable_prometheus(app: DemoApp) -> None:
    checks = [{"name": "ratio", "type": "metric", "source": "prom", "query": "up"}]
    code, lines = run(policy_set(prom=f"http://127.0.0.1:{free_port()}", app=app.url, checks=checks))
    assert code == 1
    assert lines == ["checkout/production ratio: ERROR connection refused"]
