"""The dashboard in a real Chromium: it lists deployments from the API and shows one's samples when clicked.

Debian's chromium driven by Playwright (executable_path=/usr/bin/chromium); no browser download.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.daemon import Daemon
from tests.e2e.test_daemon import write_config
from watchdog.demo.app import DemoApp

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser_path() -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/system-deps installs it)")
        pytest.skip("chromium is not installed; `make system-deps` installs it")
    yield CHROMIUM


def test_dashboard_lists_deployments_and_shows_samples(tmp_path: Path, browser_path: str) -> None:
    from playwright.sync_api import sync_playwright

    with DemoApp(port=0, version="1.0.0", rps=300, seed=3).start() as app:
        daemon = Daemon(config=write_config(tmp_path, app, duration="4s"), data=tmp_path / "data").start()
        try:
            dep = daemon.notify(service="shop", environment="production", version="1.0.0")
            daemon.wait_state(dep, {"passed"}, timeout=30)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=browser_path,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--no-first-run",
                    ],
                )
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.goto(daemon.url + "/")
                row = page.locator(f'tr[data-id="{dep}"]')
                row.wait_for(timeout=10_000)
                assert "shop" in row.inner_text() and "passed" in row.inner_text()
                row.click()
                page.locator("#detail-state").wait_for(timeout=10_000)
                assert page.locator("#detail-state").inner_text() == "passed"
                # 4 samples of 2 checks, each a cell with its reason as a tooltip
                assert page.locator(".cell").count() == 8
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot))
                assert shot.stat().st_size > 5_000
                print(f"dashboard screenshot: {shot}")
                browser.close()
        finally:
            daemon.stop()


def test_dashboard_behind_the_read_token_and_a_refused_reload_banner(
    tmp_path: Path, browser_path: str
) -> None:
    """The browser answers the Basic challenge once; the page and its fetches then carry the token."""
    from playwright.sync_api import sync_playwright

    token = "dashboard-read-token-0123456789"
    with DemoApp(port=0, version="1.0.0", rps=300, seed=3).start() as app:
        config = write_config(tmp_path, app, duration="4s")
        daemon = Daemon(config=config, data=tmp_path / "data", env={"WATCHDOG_READ_TOKEN": token}).start()
        try:
            dep = daemon.notify(service="shop", environment="production", version="1.0.0")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"]
                )
                # Without credentials a headless browser cannot answer the challenge: the page is refused.
                assert httpx.get(daemon.url + "/", timeout=5).status_code == 401
                context = browser.new_context(http_credentials={"username": "sre", "password": token})
                page = context.new_page()
                page.goto(daemon.url + "/")
                page.locator(f'tr[data-id="{dep}"]').wait_for(timeout=10_000)
                assert page.locator("#reload-error").inner_text() == ""
                policy = config / "services" / "shop.yaml"
                policy.write_text(policy.read_text() + "bogus_key: 1\n")
                page.wait_for_function(
                    "document.getElementById('reload-error').textContent.includes('policy reload refused')",
                    timeout=20_000,
                )
                assert "bogus_key" in page.locator("#reload-error").inner_text()
                browser.close()
        finally:
            daemon.stop()
