"""The dashboard's server-rendered pages on a seeded history: list and filters, deployment page, ledger.

Browser tests (tests/e2e/test_dashboard*.py) drive the same pages live; these pin the HTML.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from tests.api.harness import T0
from tests.fakes.history import seed
from watchdog.engine.runtime import Runtime


def _seed(runtime: Runtime) -> dict[str, str]:
    s = runtime.store
    return {
        "passed": seed(
            s,
            service="checkout",
            environment="staging",
            version="1.0",
            at=T0 - timedelta(hours=3),
            outcome="passed",
        ),
        "rolled": seed(
            s,
            service="checkout",
            environment="production",
            version="1.1",
            at=T0 - timedelta(hours=2),
            outcome="rolled_back",
        ),
        "broken": seed(
            s,
            service="checkout",
            environment="production",
            version="1.2",
            at=T0 - timedelta(hours=1),
            outcome="rollback_failed",
        ),
        "live": seed(
            s,
            service="checkout",
            environment="production",
            version="1.3",
            at=T0 - timedelta(minutes=1),
            outcome="verifying",
        ),
    }


async def test_list_shows_every_state_with_its_own_class_and_filters(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ids = _seed(runtime)
    page = (await client.get("/")).text
    for key, state in (
        ("passed", "passed"),
        ("rolled", "rolled_back"),
        ("broken", "rollback_failed"),
        ("live", "verifying"),
    ):
        row = re.search(rf'<tr data-id="{ids[key]}" data-state="{state}">.*?</tr>', page, re.S)
        assert row, key
        assert f'class="badge s-{state}"' in row.group(0)
        assert f'href="/deployments/{ids[key]}"' in row.group(0)
    assert "UTC" in page and "States" in page  # the legend
    assert "2 / 4 samples" in page  # the running one shows how far it got
    only = (await client.get("/", params={"state": "rolled_back"})).text
    assert ids["rolled"] in only and ids["passed"] not in only
    staging = (await client.get("/", params={"environment": "staging", "service": ""})).text
    assert ids["passed"] in staging and ids["broken"] not in staging
    rows = (await client.get("/", params={"partial": "rows"})).text
    assert rows.lstrip().startswith("<tr") and "<html" not in rows
    assert (await client.get("/", params={"state": "exploded"})).status_code == 422
    assert (await client.get("/", params={"cursor": "!!"})).status_code == 400


async def test_deployment_page_tells_the_verdict_the_rollback_and_its_verification(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ids = _seed(runtime)
    page = (await client.get(f"/deployments/{ids['rolled']}")).text
    assert ids["rolled"] in page
    assert 'data-state="rolled_back"' in page
    assert "error rate 6.0% (60 of 1000) above the limit 2.0%" in page  # the reason, not a tooltip only
    assert "verified" in page and "1.0.0" in page  # the rollback row and what it restored
    assert 'data-action="unneeded"' in page  # a rollback acted: it can be reviewed
    chart = await client.get(f"/deployments/{ids['rolled']}/charts/0.svg")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in chart.text and 'id="decision-marker"' in chart.text
    assert (await client.get(f"/deployments/{ids['rolled']}/charts/7.svg")).status_code == 404
    live = (await client.get(f"/deployments/{ids['live']}/live")).text
    assert 'data-running="true"' in live and 'data-samples="2"' in live and "2 of 4 samples" in live
    assert 'data-action="unneeded"' not in (await client.get(f"/deployments/{ids['passed']}")).text
    missing = await client.get("/deployments/nope")
    assert missing.status_code == 404


async def test_pages_escape_event_fields(client: httpx.AsyncClient, runtime: Runtime) -> None:
    dep = seed(
        runtime.store,
        service="checkout",
        environment="staging",
        version="<script>x</script>",
        at=T0,
        outcome="passed",
    )
    page = (await client.get(f"/deployments/{dep}")).text
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in (await client.get("/")).text


async def test_an_event_url_becomes_a_link_only_when_it_is_http(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from tests.fakes.history import POLICY
    from watchdog.events import DeployEvent

    def accept(url: str) -> str:
        event = DeployEvent(service="checkout", environment="staging", version="9", changelog_url=url)
        return runtime.store.accept_event(
            event=event, source="generic", delivery_id=None, policy=POLICY, now=T0
        ).deployment.id

    evil = (await client.get(f"/deployments/{accept('javascript:alert(1)')}")).text
    assert 'href="javascript:' not in evil and "(not an http link)" in evil
    good = (await client.get(f"/deployments/{accept('https://git.example/compare/1...2')}")).text
    assert 'href="https://git.example/compare/1...2"' in good


async def test_ledger_page(client: httpx.AsyncClient, runtime: Runtime) -> None:
    _seed(runtime)
    page = (await client.get("/ledger", params={"since": "7d"})).text
    assert 'id="ledger"' in page and "checkout" in page
    # production: 1.1 and 1.2 failed; 1.3 is still verifying, so it is not decided yet
    assert "100.0% (2 of 2)" in page
    assert (await client.get("/ledger", params={"since": "forever"})).status_code == 422


async def test_assets_are_served(client: httpx.AsyncClient) -> None:
    js = await client.get("/dashboard/assets/dashboard.js")
    assert js.status_code == 200 and "wdFetch" in js.text
    assert (await client.get("/dashboard/assets/dashboard.css")).status_code == 200
    assert (await client.get("/dashboard/assets/../app.py")).status_code == 404
