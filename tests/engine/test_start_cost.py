"""What a start costs: the starts of one claim read their deployments and stable artifacts together, and a
start that samples at once (it began late) takes no priming scrape of its own: its first sample's serves.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import POLICY, Harness, RecordingTarget, build, up
from tests.engine.test_source_state_ends import Counting
from watchdog.analysis.models import Measurement
from watchdog.events import DeployEvent
from watchdog.policy.connections import ScrapeSourceConfig
from watchdog.sources.scrape import FIRST_SCRAPE, ScrapeSource


@pytest.fixture
def exposition() -> Iterator[Counting]:
    with Counting() as server:
        yield server


def _accept(h: Harness, environment: str, *, late_s: float = 0.0) -> str:
    """A deploy of app to its own environment (none supersedes another), `late_s` before the clock."""
    policy = h.holder.current.policy("app", "prod")
    assert policy is not None
    event = DeployEvent(
        service="app",
        environment=environment,
        version="1.0.0",
        artifact="reg/app@sha256:1.0.0",
        deployed_at=h.clock.now() - timedelta(seconds=late_s),
    )
    accepted = h.store.accept_event(
        event=event,
        source="generic",
        delivery_id=None,
        policy=policy.model_dump(mode="json", by_alias=True),
        now=h.clock.now(),
    )
    return accepted.verification.id


async def test_the_starts_of_one_claim_read_together(
    tmp_path: Path, target: RecordingTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = build(tmp_path, policy=POLICY, script=lambda version, k: up(), target=target)
    ids = {_accept(h, f"prod-{i}") for i in range(5)}
    batches: list[int] = []
    alone: list[str] = []
    start_reads, get_deployment = h.store.start_reads, h.store.get_deployment

    def counted(starts: Any) -> Any:
        batches.append(len(starts))
        return start_reads(starts)

    def single(deployment_id: str) -> Any:
        alone.append(deployment_id)
        return get_deployment(deployment_id)

    monkeypatch.setattr(h.store, "start_reads", counted)
    monkeypatch.setattr(h.store, "get_deployment", single)
    await h.engine.tick()
    await h.engine.settle()
    assert batches == [5] and alone == []
    assert {h.store.get_verification(i).state for i in ids} == {"warming"}


async def test_a_late_start_samples_at_once_on_one_scrape(
    tmp_path: Path, target: RecordingTarget, exposition: Counting
) -> None:
    policy: dict[str, Any] = copy.deepcopy(POLICY)
    errors = policy["environments"]["prod"]["checks"][1]
    errors.update(errors="app_errors_total", requests="app_requests_total")
    h = build(tmp_path, policy=policy, script=lambda version, k: up(), target=target)
    scrape = ScrapeSource("m", ScrapeSourceConfig(type="scrape", url=exposition.url + "/metrics"))
    h.engine.sources["m"] = scrape
    try:
        # Started 25 s after its deploy at a 10 s interval: sample 2 is due at once.
        late = _accept(h, "prod", late_s=25)
        await h.engine.tick()
        await h.engine.settle()
        assert exposition.requests_total == 10  # one scrape: the sample's own, no priming one before it
        [first] = [s for s in h.store.samples_for(late) if s.check_name == "errors"]
        assert first.outcome == "inconclusive"
        note = Measurement.from_json(first.measurement).note
        assert note is not None and FIRST_SCRAPE in note
        # The next sample measures the increase since that one, as a primed start's first sample does.
        h.clock.advance(10)
        await h.engine.tick()
        await h.engine.settle()
        second = [s for s in h.store.samples_for(late) if s.check_name == "errors"][-1]
        assert Measurement.from_json(second.measurement).values["requests"] == 10.0
    finally:
        await scrape.aclose()
