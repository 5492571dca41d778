"""A verification's end reaches its sources: the engine calls `forget`, so a scrape drops that verification's
last readings (its per-key state) on a verdict and on a cancel, instead of holding them until MAX_KEYS evicts.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import POLICY, Harness, RecordingTarget, build
from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer
from tests.sources.helpers import ctx
from watchdog.analysis.models import Measurement
from watchdog.policy.connections import ScrapeSourceConfig
from watchdog.sources.scrape import FIRST_SCRAPE, ScrapeSource


class Counting(ScriptedServer):
    """A service's /metrics whose request counter grows by ten on every scrape, with no errors."""

    def __init__(self) -> None:
        super().__init__()
        self.requests_total = 0

    def handle(self, request: Recorded) -> Reply:
        self.requests_total += 10
        body = (
            "# TYPE app_requests_total counter\n"
            f"app_requests_total {self.requests_total}\n"
            "# TYPE app_errors_total counter\n"
            "app_errors_total 0\n"
        )
        return Reply(200, body.encode())


@pytest.fixture
def exposition() -> Iterator[Counting]:
    with Counting() as server:
        yield server


def _policy() -> dict[str, Any]:
    p = copy.deepcopy(POLICY)
    errors = p["environments"]["prod"]["checks"][1]
    errors.update(errors="app_errors_total", requests="app_requests_total")
    return p


@pytest.fixture
async def scraped(
    tmp_path: Path, target: RecordingTarget, exposition: Counting
) -> AsyncIterator[tuple[Harness, ScrapeSource]]:
    """The engine harness with a real scrape source of the loopback exposition as source `m`."""
    h = build(
        tmp_path, policy=_policy(), script=lambda version, k: Measurement(values={"up": 1.0}), target=target
    )
    scrape = ScrapeSource("m", ScrapeSourceConfig(type="scrape", url=exposition.url + "/metrics"))
    h.engine.sources["m"] = scrape  # the verifier reads the same mapping a reload updates
    yield h, scrape
    await scrape.aclose()


async def _read(h: Harness, scrape: ScrapeSource, verification_id: str) -> Measurement:
    """The scrape the way the verification's own error check reads it: same key, same queries."""
    policy = h.holder.current.policy("app", "prod")
    assert policy is not None
    [errors] = [c for c in policy.checks if c.name == "errors"]
    m: Measurement = await scrape.sample(
        errors, at=h.clock.now(), interval=10, ctx=ctx(verification_id=verification_id)
    )
    return m


async def test_a_verdict_drops_the_verifications_scrape_state(scraped: tuple[Harness, ScrapeSource]) -> None:
    h, scrape = scraped
    dep = h.deploy("1.0.0")
    await h.run_for(30)
    v = h.state(dep)
    assert v.state == "verifying"
    # Still running: the source holds the previous reading, so a read measures an increase.
    running = await _read(h, scrape, v.id)
    assert running.note != FIRST_SCRAPE and running.values["requests"] == 10.0
    await h.run_for(40)
    v = h.state(dep)
    assert v.state == "passed"
    # Ended: the engine told the source to forget it, so the same key starts from nothing again.
    ended = await _read(h, scrape, v.id)
    assert ended.note == FIRST_SCRAPE and ended.values == {"errors": None, "requests": None}


async def test_a_cancel_drops_the_verifications_scrape_state(scraped: tuple[Harness, ScrapeSource]) -> None:
    h, scrape = scraped
    dep = h.deploy("1.0.0")
    await h.run_for(30)
    v = await h.engine.cancel(dep, by="alice")
    assert v.state == "cancelled"
    assert (await _read(h, scrape, v.id)).note == FIRST_SCRAPE
