"""The demo service over real loopback HTTP: health, metrics, deploys, chaos and its synthetic traffic.

Traffic is waited for by polling a condition, never by asserting how long it took.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from watchdog.demo import DemoApp


@pytest.fixture
def app() -> Iterator[DemoApp]:
    with DemoApp(port=0, version="1.0.0", rps=400, seed=7) as demo:
        yield demo


def counts(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics").text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "demo_requests_total":
                out[s.labels["code"]] = s.value
            elif s.name == "demo_request_duration_seconds_count":
                out["observed"] = s.value
            elif s.name == "demo_request_duration_seconds_sum":
                out["seconds"] = s.value
            elif s.name == "demo_version_info":
                out["version=" + s.labels["version"]] = s.value
    return out


def wait_for(condition: Callable[[], bool], *, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def test_healthz_reports_version(app: DemoApp) -> None:
    r = httpx.get(app.url + "/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "version": "1.0.0"}
    assert app.port != 0 and app.url == f"http://127.0.0.1:{app.port}"


def test_metrics_exposition_has_all_families(app: DemoApp) -> None:
    wait_for(lambda: counts(app.url).get("observed", 0) > 0)
    c = counts(app.url)
    assert {"200", "500", "version=1.0.0"} <= set(c)
    assert c["version=1.0.0"] == 1.0


def test_deploy_changes_version_and_error_rate(app: DemoApp) -> None:
    assert app.error_rate == pytest.approx(0.005)
    r = httpx.post(app.url + "/deploy", json={"version": "1.1.0-bad", "artifact": "img@sha256:1"})
    assert r.status_code == 200 and r.json()["artifact"] == "img@sha256:1"
    assert app.version == "1.1.0-bad" and app.error_rate == pytest.approx(0.30)
    assert httpx.get(app.url + "/healthz").json()["version"] == "1.1.0-bad"
    c = counts(app.url)
    assert "version=1.0.0" not in c and c["version=1.1.0-bad"] == 1.0
    assert app.deploys == [{"version": "1.1.0-bad", "artifact": "img@sha256:1"}]


def test_bad_version_produces_errors(app: DemoApp) -> None:
    before = counts(app.url)
    app.deploy("2.0.0-bad")
    wait_for(lambda: counts(app.url)["200"] - before["200"] > 300)
    after = counts(app.url)
    errors, total = after["500"] - before["500"], after["200"] + after["500"] - before["200"] - before["500"]
    assert 0.15 < errors / total < 0.5


def test_chaos_overrides_and_clears(app: DemoApp) -> None:
    assert httpx.post(app.url + "/chaos", json={"error_rate": 0.5}).json()["error_rate"] == 0.5
    assert app.error_rate == 0.5
    assert httpx.post(app.url + "/chaos", json={"error_rate": None}).json()["error_rate"] == 0.005
    assert httpx.post(app.url + "/chaos", json={"error_rate": 2}).status_code == 400
    assert httpx.post(app.url + "/chaos", json={"error_rate": "x"}).status_code == 400
    app.set_error_rate(1.0)
    before = counts(app.url)
    wait_for(lambda: counts(app.url)["500"] - before["500"] > 20)
    assert counts(app.url)["200"] - before["200"] <= 1  # a tick may straddle the override


def test_bad_requests(app: DemoApp) -> None:
    assert httpx.post(app.url + "/deploy", json={}).status_code == 400
    assert httpx.post(app.url + "/deploy", content=b"{nope").status_code == 400
    assert httpx.get(app.url + "/nope").status_code == 404


def test_down_version_fails_healthz(app: DemoApp) -> None:
    app.deploy("3.0.0-down")
    assert httpx.get(app.url + "/healthz").status_code == 503


def test_slow_version_is_slower(app: DemoApp) -> None:
    wait_for(lambda: counts(app.url).get("observed", 0) > 50)
    fast = counts(app.url)
    app.deploy("1.0.1-slow")
    wait_for(lambda: counts(app.url)["observed"] - fast["observed"] > 100)
    slow = counts(app.url)
    assert fast["seconds"] / fast["observed"] < 0.065
    assert (slow["seconds"] - fast["seconds"]) / (slow["observed"] - fast["observed"]) > 0.08


def test_module_runs_in_foreground() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watchdog.demo", "--port", str(port), "--version", "9.9.9"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "9.9.9" in proc.stdout.readline()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["version"] == "9.9.9"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
