"""The optional `current` probe of webhook and command targets, against a real service on loopback:
what it reports, a down service (cannot say), and a token in the URL that never shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from watchdog.demo.app import DemoApp
from watchdog.plumbing import Plumbing
from watchdog.policy.connections import CommandTargetConfig, CurrentProbe, WebhookTargetConfig
from watchdog.targets.base import RollbackRequest
from watchdog.targets.command import CommandTarget
from watchdog.targets.current_probe import field_at
from watchdog.targets.webhook import WebhookTarget

REQ = RollbackRequest(
    deployment_id="d1",
    service="shop",
    environment="production",
    version="1.0.0",
    artifact="reg/shop@sha256:1",
    failed_version="1.1.0",
    failed_artifact="reg/shop@sha256:2",
)


@pytest.fixture
def app() -> Iterator[DemoApp]:
    with DemoApp(port=0, version="1.1.0").start() as a:
        yield a


async def test_a_webhook_target_with_a_probe_says_what_runs(app: DemoApp) -> None:
    probe = CurrentProbe(url=f"{app.url}/healthz")
    target = WebhookTarget(
        "hook", WebhookTargetConfig(type="webhook", url=f"{app.url}/deploy", current=probe)
    )
    assert (await target.current(REQ)).version == "1.1.0"
    app.deploy("1.0.0")
    assert (await target.current(REQ)).version == "1.0.0"


async def test_a_command_target_with_a_probe_and_one_without(app: DemoApp) -> None:
    probe = CurrentProbe(url=f"{app.url}/healthz", version_field=None, artifact_field="version")
    with_probe = CommandTarget("cmd", CommandTargetConfig(type="command", argv=["true"], current=probe))
    assert (await with_probe.current(REQ)).artifact == "1.1.0"
    without = CommandTarget("cmd", CommandTargetConfig(type="command", argv=["true"]))
    assert (await without.current(REQ)).artifact is None


async def test_a_probe_that_fails_cannot_say_and_hides_its_token() -> None:
    probe = CurrentProbe(url="http://127.0.0.1:1/version?token=${PROBE_TOKEN}", timeout=1)
    config = WebhookTargetConfig(type="webhook", url="http://127.0.0.1:1/deploy", current=probe)
    target = WebhookTarget("hook", config, plumbing=Plumbing(environ={"PROBE_TOKEN": "s3cr3t-value"}))
    current = await target.current(REQ)
    assert current.artifact is None and current.version is None
    assert "current probe failed" in current.detail and "s3cr3t-value" not in current.detail


def test_field_paths() -> None:
    data = {"build": {"version": "2.4.1", "tags": ["a"]}, "n": 3}
    assert field_at(data, "build.version") == "2.4.1"
    assert field_at(data, "n") == "3"
    assert field_at(data, "build.tags") is None and field_at(data, "missing.x") is None
