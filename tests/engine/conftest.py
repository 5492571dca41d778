"""An engine on a real SQLite store and a fake clock, with scripted sources and a recording target.

Scripted sources answer per sample index so each lifecycle rule can be driven exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchdog.analysis.models import Baseline, Measurement
from watchdog.clock import FakeClock
from watchdog.engine.engine import Engine
from watchdog.engine.runtime import build_runtime
from watchdog.events import DeployEvent
from watchdog.policy.reload import PolicyHolder
from watchdog.settings import Settings
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.store import Store
from watchdog.store.actions import ActionSpec
from watchdog.store.base import new_id
from watchdog.store.outbox_repo import InsertRollback, SetState
from watchdog.store.records import VerificationRow
from watchdog.targets.base import Current, RollbackRequest, RollbackResult

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

Script = Callable[[str, int], Measurement]  # (version, k) -> measurement


class ScriptedSource(Source):
    """Answers each check from a function of the version being verified and the sample index."""

    def __init__(self, name: str, script: Script, *, baseline: Baseline | None = None) -> None:
        self.name = name
        self.script = script
        self.baseline = baseline
        self.calls: list[tuple[str, str, int]] = []

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        k = math.floor((at - ctx.deployed_at).total_seconds() / interval + 1e-9)
        self.calls.append((ctx.version, check.name, k))
        return self.script(ctx.version, k)

    async def history(
        self, check: AnyCheck, *, start: datetime, end: datetime, interval: float, ctx: SampleContext
    ) -> Baseline | None:
        return self.baseline

    async def aclose(self) -> None:
        return None


@dataclass
class RecordingTarget:
    """Runs `running` and records every rollback call; `fail` makes the call fail."""

    name: str = "t"
    timeout: float = 300.0
    running: str = "reg/app@sha256:v1"
    fail: str | None = None
    calls: list[RollbackRequest] = field(default_factory=list)

    async def current(self, req: RollbackRequest) -> Current:
        return Current(artifact=self.running)

    async def rollback(self, req: RollbackRequest) -> RollbackResult:
        self.calls.append(req)
        if self.fail:
            return RollbackResult(ok=False, detail=self.fail)
        self.running = req.artifact
        return RollbackResult(ok=True, detail=f"image set to {req.artifact}", output="patched deployment")


def up(ok: bool = True) -> Measurement:
    return Measurement(values={"up": 1.0 if ok else 0.0}, note=None if ok else "status 503, expected 200")


def rate(errors: float, requests: float = 1000.0) -> Measurement:
    return Measurement(values={"errors": errors, "requests": requests})


POLICY: dict[str, Any] = {
    "service": "app",
    "defaults": {
        "verification": {
            "duration": "60s",
            "interval": "10s",
            "warmup": "10s",
            "failure_limit": 2,
            "min_conclusive": 0.6,
            "baseline_window": "10m",
        },
        "on_failure": "rollback",
        "rollback": {"max_per_hour": 1, "verification": {"duration": "20s", "interval": "10s"}},
    },
    "environments": {
        "prod": {
            "target": "t",
            "checks": [
                {"name": "healthz", "type": "http", "url": "http://127.0.0.1:1/healthz"},
                {
                    "name": "errors",
                    "type": "error_rate",
                    "source": "m",
                    "errors": "e",
                    "requests": "r",
                    "max": 0.02,
                },
            ],
        }
    },
}


@dataclass
class Harness:
    engine: Engine
    store: Store
    clock: FakeClock
    target: RecordingTarget
    holder: PolicyHolder
    reports: Path

    def deploy(self, version: str, *, at: datetime | None = None, **kw: Any) -> str:
        event = DeployEvent(
            service="app",
            environment="prod",
            version=version,
            artifact=f"reg/app@sha256:{version}",
            deployed_at=at or self.clock.now(),
            **kw,
        )
        policy = self.holder.current.policy("app", "prod")
        assert policy is not None
        acc = self.store.accept_event(
            event=event,
            source="generic",
            delivery_id=None,
            policy=policy.model_dump(mode="json", by_alias=True),
            now=self.clock.now(),
        )
        return acc.deployment.id

    async def run_for(self, seconds: float, *, step: float = 10.0) -> None:
        """Moves the clock in steps, ticking at every one: the engine sees each sample come due."""
        await self.engine.tick()
        await self.engine.settle()
        end = self.clock.now() + timedelta(seconds=seconds)
        while self.clock.now() < end:
            self.clock.advance(step)
            await self.engine.tick()
            await self.engine.settle()

    def write_intent(self, deployment_id: str, *, attempted_by: str | None = None) -> str:
        """What a daemon that died around its target call leaves: the intent to restore 1.0.0 and its pending
        target call; `attempted_by` had counted an attempt (the call may have gone out) before it died."""
        v = self.store.deploy_verification(deployment_id)
        rollback_id = new_id()
        row = {
            "id": rollback_id,
            "deployment_id": deployment_id,
            "service": "app",
            "environment": "prod",
            "trigger": "auto",
            "state": "intent",
            "reason": "errors",
            "target": "t",
            "from_version": "1.1.0-bad",
            "from_artifact": "reg/app@sha256:1.1.0-bad",
            "to_version": "1.0.0",
            "to_artifact": "reg/app@sha256:1.0.0",
            "output": "",
            "attempts": 0,
            "requested_at": self.clock.now(),
            "finished_at": None,
        }
        call = ActionSpec(
            kind="target_call", deployment_id=deployment_id, payload={"rollback_id": rollback_id}
        )
        self.store.apply(
            effects=[InsertRollback(row), SetState(v.id, "rolling_back", "rolling back to 1.0.0")],
            follow_ups=[call],
            now=self.clock.now(),
        )
        if attempted_by is not None:
            [claimed] = self.store.claim_actions(
                owner=attempted_by, now=self.clock.now(), lease_s=30, limit=10
            )
            assert self.store.begin_attempt(claimed.id, owner=attempted_by) == 1
        return rollback_id

    def state(self, deployment_id: str) -> VerificationRow:
        return self.store.deploy_verification(deployment_id)


def build(
    tmp_path: Path,
    *,
    policy: dict[str, Any],
    script: Script,
    target: RecordingTarget,
    engine_store: Store | None = None,
    clock: FakeClock | None = None,
    owner: str = "test-1",
    baseline: Baseline | None = None,
    notifiers: dict[str, Any] | None = None,
) -> Harness:
    config = tmp_path / "config"
    (config / "services").mkdir(parents=True, exist_ok=True)
    (config / "watchdog.yaml").write_text(
        yaml.safe_dump(
            {
                "sources": {"m": {"type": "scrape", "url": "http://127.0.0.1:1/metrics"}},
                "targets": {"t": {"type": "command", "argv": ["true"]}},
                "notifiers": notifiers or {},
            }
        )
    )
    (config / "services" / "app.yaml").write_text(yaml.safe_dump(policy))
    store = engine_store or Store(f"sqlite:///{tmp_path / 'wd.db'}")
    store.upgrade()
    clock = clock or FakeClock(T0)
    # No sample jitter: the fake clock steps to exact k x interval instants.
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "config_dir": config,
            "instance_id": owner,
            "lease_seconds": 30,
            "sample_jitter": 0,
        }
    )
    # The runtime `watchdog serve` builds, with the outside world replaced: scripted sources, the target.
    runtime = build_runtime(
        settings,
        clock=clock,
        store=store,
        sources={"http": ScriptedSource("http", script), "m": ScriptedSource("m", script, baseline=baseline)},
        targets={"t": target},
        notify_retry_delay=0.01,
    )
    engine, holder, reports = runtime.engine, runtime.policies, settings.resolved_reports_dir
    return Harness(engine=engine, store=store, clock=clock, target=target, holder=holder, reports=reports)


@pytest.fixture
def target() -> Iterator[RecordingTarget]:
    yield RecordingTarget()
