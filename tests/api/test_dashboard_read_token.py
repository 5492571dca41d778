"""The dashboard behind WATCHDOG_READ_TOKEN: a Basic login reads, it never acts; a refused reload shows.

A browser answers the Basic challenge once and then sends that credential by itself, so it must grant reads
only: every admin route still wants the admin token as a Bearer header typed into the page.
"""

from __future__ import annotations

import base64
import html
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.api.harness import ADMIN_TOKEN, T0, RecordingEngine, read_locked, snapshot
from tests.fakes.history import seed
from watchdog.engine.runtime import Runtime

READ_TOKEN = "dashboard-read-token-0123456789"


def basic(password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"sre:{password}".encode()).decode()}


# What a forged request from another site carries: the browser's cached Basic login and any cookie.
CROSS_SITE = {
    "origin": "https://evil.example",
    "sec-fetch-site": "cross-site",
    "cookie": f"token={ADMIN_TOKEN}",
}


@pytest.fixture
async def locked(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    async with read_locked(tmp_path, read_token=READ_TOKEN) as locked_client:
        yield locked_client


async def test_a_basic_login_reads_the_dashboard_and_its_fragments(
    locked: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, rt = locked
    dep = seed(
        rt.store, service="checkout", environment="production", version="1.3", at=T0, outcome="verifying"
    )
    paths = ["/", "/?partial=rows", "/ledger", f"/deployments/{dep}", f"/deployments/{dep}/live"]
    paths += [f"/deployments/{dep}/charts/0.svg", "/dashboard/banner", "/dashboard/assets/dashboard.js"]
    for path in paths:
        bare = await client.get(path)
        assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Basic"), path
        assert (await client.get(path, headers=basic(READ_TOKEN))).status_code == 200, path


@pytest.mark.parametrize("password", [READ_TOKEN, ADMIN_TOKEN])
async def test_a_cross_site_request_with_only_a_basic_login_cannot_act(
    locked: tuple[httpx.AsyncClient, Runtime], password: str
) -> None:
    """Not even the admin token counts when it comes as a Basic password: the browser would resend it."""
    client, rt = locked
    dep = seed(
        rt.store,
        service="checkout",
        environment="production",
        version="1.1",
        at=T0 - timedelta(hours=1),
        outcome="rolled_back",
    )
    before = snapshot(rt.store)
    headers = {**CROSS_SITE, **basic(password)}
    actions = [
        ("POST", f"/v1/deployments/{dep}/rollback", {"reason": "forged"}),
        ("POST", f"/v1/deployments/{dep}/promote", None),
        ("PUT", "/v1/freezes/checkout/production", {"reason": "forged"}),
        ("DELETE", "/v1/freezes/checkout/production", None),
        ("PUT", f"/v1/deployments/{dep}/rollback-review", {"unneeded": True, "reason": "forged"}),
        ("GET", "/v1/freezes", None),
    ]
    for method, url, body in actions:
        r = await client.request(method, url, json=body, headers=headers)
        assert r.status_code == 401, (method, url, r.status_code, r.text)
        assert "Bearer" in r.json()["detail"]
    assert snapshot(rt.store) == before
    assert isinstance(rt.engine, RecordingEngine)
    assert rt.engine.calls == []
    # The same action with the admin token in the header, as the page sends it, is done.
    done = await client.put(
        "/v1/freezes/checkout/production",
        json={"reason": "from the page"},
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert done.status_code == 200, done.text


async def test_a_refused_reload_shows_on_every_page_until_a_reload_succeeds(
    locked: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, rt = locked
    dep = seed(rt.store, service="checkout", environment="staging", version="1.0", at=T0, outcome="passed")
    pages = ["/", "/ledger", f"/deployments/{dep}", "/dashboard/banner"]
    for path in pages:
        text = (await client.get(path, headers=basic(READ_TOKEN))).text
        assert '<div id="reload-error" class="banner" role="alert"></div>' in text, path
    policy = rt.policies.config_dir / "services" / "checkout.yaml"
    good = policy.read_text()
    policy.write_text(good + "bogus_key: 1\n")
    assert rt.policies.reload()
    for path in pages:
        text = (await client.get(path, headers=basic(READ_TOKEN))).text
        banner = text[text.index('<div id="reload-error"') :].split("</div>", 1)[0]
        assert 'role="alert"' in banner and "policy reload refused" in banner, path
        assert "checkout.yaml:" in banner and "bogus_key" in banner, banner
    # The banner says what /readyz says.
    ready = (await client.get("/readyz")).json()["policy_reload_error"]
    assert ready in html.unescape((await client.get("/dashboard/banner", headers=basic(READ_TOKEN))).text)
    policy.write_text(good)
    assert rt.policies.reload() == []
    for path in pages:
        text = (await client.get(path, headers=basic(READ_TOKEN))).text
        assert "policy reload refused" not in text, path
