"""A Runtime on a real SQLite store in a tmp dir, real policies from a small config dir, and a clock.

RecordingEngine (wake/request_rollback/promote) by default; or the runtime `watchdog serve` builds.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import yaml

from tests.conftest import KNOWN_SECRET, watch
from watchdog.clock import Clock, FakeClock
from watchdog.engine.requests import Requests
from watchdog.engine.runtime import Runtime, build_runtime
from watchdog.errors import Refused
from watchdog.intake.signatures import sign_github, sign_standard
from watchdog.policy.reload import PolicyHolder
from watchdog.settings import Settings
from watchdog.store import Store
from watchdog.store.records import RollbackRow, VerificationRow
from watchdog.store.schema import metadata
from watchdog.telemetry import Metrics

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
# Every secret setting holds the known secret, so the suite-wide leak check (tests/conftest.py) sees them all.
WEBHOOK_SECRET = "whsec_" + base64.b64encode(f"generic-{KNOWN_SECRET}".encode()).decode()
GITHUB_SECRET = f"github-{KNOWN_SECRET}"
GITLAB_TOKEN = f"gitlab-{KNOWN_SECRET}"
ARGOCD_TOKEN = f"argocd-{KNOWN_SECRET}"
ADMIN_TOKEN = f"admin-{KNOWN_SECRET}"
SENTRY_DSN = f"https://{KNOWN_SECRET}@sentry.example/1"
watch(WEBHOOK_SECRET, WEBHOOK_SECRET.removeprefix("whsec_"))

_CHECK = {"name": "healthz", "type": "http", "url": "http://127.0.0.1:1/healthz"}
SERVICES: dict[str, dict[str, Any]] = {
    "checkout": {
        "service": "checkout",
        "defaults": {
            "verification": {"duration": "60s", "interval": "10s", "warmup": "10s"},
            "checks": [_CHECK],
        },
        "environments": {
            "staging": {"target": "t"},
            "production": {"target": "t", "require_verified_in": "staging"},
        },
    },
    # The repository of @octokit/webhooks-examples, lower-cased.
    "hello-world": {
        "service": "hello-world",
        "defaults": {"checks": [_CHECK], "on_failure": "alert"},
        "environments": {"production": {}},
    },
}


def write_config(root: Path) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True, exist_ok=True)
    daemon = {"targets": {"t": {"type": "command", "argv": ["true"]}}}
    (config / "watchdog.yaml").write_text(yaml.safe_dump(daemon))
    for name, doc in SERVICES.items():
        (config / "services" / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    return config


@dataclass
class RecordingEngine:
    """Stands in for the Engine in intake and read tests: records what the API asked of it."""

    store: Store
    clock: Clock
    wakes: int = 0
    calls: list[tuple[str, str]] = field(default_factory=list)
    requests: Requests | None = None  # carries operator requests out through this double

    def __post_init__(self) -> None:
        self.requests = Requests(
            store=self.store, clock=self.clock, owner="api-test", lease_s=30, actions=self
        )

    def wake(self) -> None:
        self.wakes += 1

    async def request_rollback(self, deployment_id: str, *, by: str, reason: str) -> RollbackRow:
        self.calls.append(("rollback", deployment_id))
        d = self.store.get_deployment(deployment_id)
        raise Refused("rollback", f"test double: no rollback of {d.id}")

    async def promote(self, deployment_id: str, *, by: str) -> VerificationRow:
        self.calls.append(("promote", deployment_id))
        return self.store.deploy_verification(deployment_id)


@dataclass
class RecordingTarget:
    """Deploy target "t": records rollback calls and says they worked."""

    name: str = "t"
    timeout: float = 300.0
    calls: list[Any] = field(default_factory=list)

    async def current(self, req: Any) -> Any:
        from watchdog.targets.base import Current

        return Current(artifact=req.failed_artifact)

    async def rollback(self, req: Any) -> Any:
        from watchdog.targets.base import RollbackResult

        self.calls.append(req)
        return RollbackResult(ok=True, detail=f"set to {req.artifact}")


def make_runtime(
    root: Path, *, clock: Clock | None = None, engine: str = "double", **overrides: Any
) -> Runtime:
    """engine: "double" (RecordingEngine) or "real" (what `watchdog serve` builds; target t records)."""
    written = write_config(root)
    values: dict[str, Any] = {
        "data_dir": root,
        "config_dir": written,
        "webhook_secret": WEBHOOK_SECRET,
        "github_webhook_secret": GITHUB_SECRET,
        "gitlab_webhook_token": GITLAB_TOKEN,
        "argocd_webhook_token": ARGOCD_TOKEN,
        "admin_token": ADMIN_TOKEN,
        "sentry_dsn": SENTRY_DSN,
        "instance_id": "api-test",
    }
    values.update(overrides)
    settings = Settings(**values)
    store = Store(f"sqlite:///{root / 'watchdog.db'}")
    store.upgrade()
    clock = clock or FakeClock(T0)
    if engine == "real":
        real = settings.replace(config_dir=written)
        return build_runtime(real, clock=clock, store=store, targets={"t": RecordingTarget()})
    holder = PolicyHolder(written)
    eng = RecordingEngine(store=store, clock=clock)
    return Runtime(
        settings=settings,
        store=store,
        policies=holder,
        clock=clock,
        metrics=Metrics(),
        # A stand-in, not an Engine: the API wakes it and reads its `requests` (operator requests).
        engine=eng,  # type: ignore[arg-type]
    )


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: a refused request must leave this unchanged."""
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(sa.select(t))] for t in metadata.sorted_tables}
    finally:
        engine.dispose()


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "service": "checkout",
        "environment": "staging",
        "version": "2.4.1",
        "artifact": "registry.example/checkout@sha256:aaa",
    }
    base.update(fields)
    return base


def generic_headers(
    body: bytes, *, msg_id: str, at: datetime, secret: str = WEBHOOK_SECRET
) -> dict[str, str]:
    ts = int(at.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard(secret=secret, msg_id=msg_id, timestamp=ts, body=body),
    }


def github_headers(body: bytes, *, delivery: str, kind: str = "deployment_status") -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-github-event": kind,
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign_github(secret=GITHUB_SECRET, body=body),
    }


def dumps(data: Any) -> bytes:
    return json.dumps(data).encode()


@contextlib.asynccontextmanager
async def read_locked(tmp_path: Path, *, read_token: str) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    """An in-process client of a daemon whose reads need `read_token`, and its runtime (closed after)."""
    from watchdog.api.app import create_app

    rt = make_runtime(tmp_path, read_token=read_token)
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://watchdog.test") as c:
        yield c, rt
    rt.store.close()
