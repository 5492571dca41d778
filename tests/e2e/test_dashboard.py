"""The dashboard in a real Chromium against a real daemon and the demo service: live progress, colours,
operator actions with and without the token, an axe-core accessibility check, and the screenshots.

Screenshots of a passed, a rolled-back and a failed-rollback deployment, the list and the ledger are taken
into the test's temp dir; with WATCHDOG_UPDATE_SCREENSHOTS=1 into docs/dashboard/ (a test run leaves the
checkout as it found it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import free_port
from tests.e2e.browser import ROOT, axe_js, axe_problems, browser
from tests.e2e.daemon import ADMIN, Daemon

pytestmark = pytest.mark.slow
__all__ = ["axe_js", "browser"]  # fixtures, imported for pytest
DOCS_SHOTS = ROOT / "docs" / "dashboard"


def demo_config(dest: Path, demo_port: int) -> Path:
    """The shipped config, windows of seconds, and an `edge` environment whose target always fails."""
    config = dest / "config"
    shutil.copytree(ROOT / "config", config)
    for path in [config / "watchdog.yaml", *sorted((config / "services").glob("*.yaml"))]:
        path.write_text(path.read_text().replace("127.0.0.1:8081", f"127.0.0.1:{demo_port}"))
    daemon = yaml.safe_load((config / "watchdog.yaml").read_text())
    daemon["targets"]["broken"] = {"type": "command", "argv": ["false"], "timeout": "5s"}
    (config / "watchdog.yaml").write_text(yaml.safe_dump(daemon))
    demo = yaml.safe_load((config / "services" / "demo.yaml").read_text())
    demo["defaults"]["verification"].update(duration="10s", interval="1s", warmup="1s")
    demo["defaults"]["rollback"]["verification"] = {"duration": "6s", "interval": "2s"}
    local = demo["environments"]["local"]
    demo["environments"]["edge"] = {"target": "broken", "checks": local["checks"]}
    (config / "services" / "demo.yaml").write_text(yaml.safe_dump(demo))
    return config


def deploy(version: str, *, env: dict[str, str], environment: str = "local") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "watchdog", "demo", "deploy", version, "--environment", environment, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["deployment_id"])


def live_state(page: Any) -> tuple[int, str, str]:
    samples, running, chart = page.evaluate(
        """() => { const l = document.querySelector('#live'); const img = document.querySelector('img.chart');
                  return [Number(l.dataset.samples), l.dataset.running, img ? img.dataset.chart : '']; }"""
    )
    return samples, running, chart


def badge_colour(page: Any, state: str) -> str:
    colour: str = page.evaluate(
        "(s) => getComputedStyle(document.querySelector('.legend .badge.s-' + s)).backgroundColor", state
    )
    return colour


def test_live_dashboard(tmp_path: Path, browser: Any, axe_js: Path) -> None:
    demo_port = free_port()
    daemon = Daemon(
        config=demo_config(tmp_path, demo_port),
        data=tmp_path / "data",
        args=["--demo", "--demo-port", str(demo_port)],
    )
    daemon.start()
    env = {**daemon.env(), "WATCHDOG_DEMO_URL": f"http://127.0.0.1:{demo_port}", "WATCHDOG_URL": daemon.url}
    shots = DOCS_SHOTS if os.environ.get("WATCHDOG_UPDATE_SCREENSHOTS") == "1" else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        good = deploy("1.0.0", env=env)
        page.goto(f"{daemon.url}/deployments/{good}")
        # Progress sample by sample while the verification runs, not only once it ended.
        seen: list[tuple[int, str]] = []
        charts: set[str] = set()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            samples, running, chart = live_state(page)
            if running == "true":
                seen.append((samples, running))
                if chart:
                    charts.add(chart)
            elif samples > 0:
                break
            time.sleep(0.25)
        counts = sorted({s for s, _ in seen})
        assert len(counts) >= 3, f"the page showed only these sample counts while running: {counts}"
        assert len(charts) >= 2, f"the chart did not update while running: {charts}"
        page.locator("#detail-state[data-state='passed']").wait_for(timeout=20_000)
        assert "passed verification" in page.locator("#summary").inner_text()
        page.screenshot(path=str(shots / "passed.png"), full_page=True)

        bad = deploy("1.1.0-bad", env=env)
        daemon.wait_state(bad, {"rolled_back", "rollback_failed", "inconclusive", "passed"}, timeout=60)
        page.goto(f"{daemon.url}/deployments/{bad}")
        page.locator("#detail-state[data-state='rolled_back']").wait_for(timeout=10_000)
        assert "verified" in page.locator("#rollbacks").inner_text()
        # The chart of the bad deploy goes on past the decision with the restored version's samples.
        svg = httpx.get(f"{daemon.url}/deployments/{bad}/charts/0.svg", timeout=10).text
        assert 'id="restored"' in svg and 'id="rollback-marker"' in svg
        page.screenshot(path=str(shots / "rolled-back.png"), full_page=True)
        problems = axe_problems(page, axe_js)
        assert not problems, "\n".join(problems)

        stable = deploy("1.0.0", env=env, environment="edge")
        daemon.wait_state(stable, {"passed"}, timeout=40)
        broken = deploy("1.2.0-bad", env=env, environment="edge")
        daemon.wait_state(broken, {"rollback_failed", "rolled_back"}, timeout=90)
        page.goto(f"{daemon.url}/deployments/{broken}")
        page.locator("#detail-state[data-state='rollback_failed']").wait_for(timeout=10_000)
        page.screenshot(path=str(shots / "rollback-failed.png"), full_page=True)

        # Distinct colours per state: rolled back must not look like passed.
        colours = {s: badge_colour(page, s) for s in ("passed", "rolled_back", "rollback_failed", "failed")}
        assert len(set(colours.values())) == 4, colours

        # Operator actions: refused without the right token, done with it.
        page.goto(f"{daemon.url}/deployments/{bad}")
        result = page.locator("#action-result")
        page.get_by_role("button", name=re.compile("^Freeze")).click()
        assert "admin token" in result.inner_text()
        raw = page.evaluate(
            "async (u) => (await fetch(u, {method: 'PUT', headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({reason: 'x'})})).status",
            "/v1/freezes/demo/local",
        )
        assert raw == 401
        page.get_by_label("Admin token").fill("not-the-token")
        page.get_by_role("button", name=re.compile("^Freeze")).click()
        page.wait_for_function("() => /HTTP 403/.test(document.querySelector('#action-result').textContent)")
        admin = {"Authorization": f"Bearer {ADMIN}"}
        assert httpx.get(f"{daemon.url}/v1/freezes", headers=admin).json()["items"] == []
        page.get_by_label("Admin token").fill(ADMIN)
        page.get_by_label(re.compile("^Reason")).fill("checking the dashboard")
        page.get_by_role("button", name=re.compile("^Freeze")).click()
        page.wait_for_function("() => /HTTP 200/.test(document.querySelector('#action-result').textContent)")
        frozen = httpx.get(f"{daemon.url}/v1/freezes", headers=admin).json()["items"]
        assert [(f["service"], f["environment"], f["reason"]) for f in frozen] == [
            ("demo", "local", "checking the dashboard")
        ]
        page.get_by_role("button", name="Mark the rollback as unneeded").click()
        page.wait_for_function(
            "() => /unneeded: HTTP 200/.test(document.querySelector('#action-result').textContent)"
        )

        # By keyboard alone: from the reason field, Tab through the buttons to "Lift the freeze", Enter.
        page.get_by_label(re.compile("^Reason")).focus()
        for _ in range(4):
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.dataset.action") == "unfreeze"
        page.keyboard.press("Enter")
        page.wait_for_function("() => /HTTP 204/.test(document.querySelector('#action-result').textContent)")
        assert httpx.get(f"{daemon.url}/v1/freezes", headers=admin).json()["items"] == []

        page.goto(f"{daemon.url}/ledger")
        page.screenshot(path=str(shots / "ledger.png"), full_page=True)
        ledger = page.locator("#ledger").inner_text()
        assert "demo" in ledger
        stats = httpx.get(f"{daemon.url}/v1/stats", params={"since": "1d"}).json()["items"]
        local = next(i for i in stats if i["environment"] == "local")
        assert local["rollbacks_unneeded"] == 1 and local["automatic_rollbacks"] == 1
        for url in ("/", "/ledger", f"/deployments/{broken}"):
            page.goto(daemon.url + url)
            problems = axe_problems(page, axe_js)
            assert not problems, f"{url}:\n" + "\n".join(problems)
        page.goto(daemon.url + "/")
        page.screenshot(path=str(shots / "list.png"), full_page=True)
        page.goto(f"{daemon.url}/?state=rolled_back")
        assert page.locator(f'tr[data-id="{bad}"]').count() == 1
        assert page.locator(f'tr[data-id="{good}"]').count() == 0
    finally:
        daemon.stop()


def test_dashboard_behind_the_read_token_with_a_refused_reload_banner(
    tmp_path: Path, browser: Any, axe_js: Path
) -> None:
    """The browser answers the Basic challenge once; the page's own fetches then read with that login."""
    token = "dashboard-read-token-0123456789"
    demo_port = free_port()
    config = demo_config(tmp_path, demo_port)
    daemon = Daemon(
        config=config,
        data=tmp_path / "data",
        args=["--demo", "--demo-port", str(demo_port)],
        env={"WATCHDOG_READ_TOKEN": token},
    )
    daemon.start()
    env = {**daemon.env(), "WATCHDOG_DEMO_URL": f"http://127.0.0.1:{demo_port}", "WATCHDOG_URL": daemon.url}
    try:
        # Without credentials the page is refused, with the challenge a browser answers.
        bare = httpx.get(daemon.url + "/", timeout=5)
        assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Basic")
        context = browser.new_context(
            http_credentials={"username": "sre", "password": token}, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        refused: list[str] = []
        page.on(
            "response",
            lambda r: (
                refused.append(f"{r.status} {r.url}")
                if r.request.resource_type == "fetch" and r.status in (401, 403)
                else None
            ),
        )
        assert page.goto(daemon.url + "/").status == 200
        assert page.locator("#reload-error").inner_text() == ""

        dep = deploy("1.0.0", env=env)
        page.goto(f"{daemon.url}/deployments/{dep}")
        # Live progress arrives through the script's fetches, and the charts are fetched by it too.
        first = live_state(page)[0]
        page.wait_for_function(
            f"() => Number(document.querySelector('#live').dataset.samples) > {first}", timeout=30_000
        )
        page.wait_for_function(
            "() => { const i = document.querySelector('img.chart');"
            " return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; }",
            timeout=30_000,
        )
        page.locator("#gate .gate-ok, #gate .gate-no").first.wait_for(timeout=10_000)
        assert refused == [], refused

        # A broken policy edit is refused; the open page shows it without a reload. (`--demo` serves a
        # copy of the config from its data directory.)
        policy = daemon.data / "demo-config" / "services" / "demo.yaml"
        good = policy.read_text()
        policy.write_text(good + "bogus_key: 1\n")
        page.wait_for_function(
            "() => document.getElementById('reload-error').textContent.includes('policy reload refused')",
            timeout=20_000,
        )
        banner = page.get_by_role("alert")
        assert banner.is_visible()
        text = banner.inner_text()
        assert "demo.yaml:" in text and "bogus_key" in text, text
        for url in ("/", "/ledger"):
            page.goto(daemon.url + url)
            assert "bogus_key" in page.locator("#reload-error[role=alert]").inner_text(), url
        problems = axe_problems(page, axe_js)
        assert not problems, "\n".join(problems)

        # Fixed: the banner goes away by itself.
        policy.write_text(good)
        page.wait_for_function(
            "() => document.getElementById('reload-error').textContent === ''", timeout=20_000
        )
        assert not page.locator("#reload-error").is_visible()
        assert refused == [], refused
        context.close()
    finally:
        daemon.stop()
