"""A deploy system echoing the daemon's own rollback: recorded as that rollback's echo, verified, never rolled
back automatically, whatever shape the echo arrives in (generic event, GitHub, Argo CD).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.engine.conftest import POLICY, Harness, RecordingTarget, build, rate
from tests.fakes.octokit import examples
from tests.intake.payloads import argocd_deployed
from watchdog.analysis.models import Measurement
from watchdog.events import DeployEvent
from watchdog.intake import argocd, generic, github
from watchdog.intake.signatures import sign_github, sign_standard

RESTORED = "reg/app@sha256:1.0.0"
SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"


def echo_event(shape: str, now: datetime) -> DeployEvent:
    """The deploy system's own report that RESTORED is live again, in its own wire format."""
    if shape == "generic":
        body = json.dumps({"service": "app", "environment": "prod", "version": "1.0.0", "artifact": RESTORED})
        ts = int(now.timestamp())
        headers = {
            "webhook-id": "msg_echo",
            "webhook-timestamp": str(ts),
            "webhook-signature": sign_standard(
                secret=SECRET, msg_id="msg_echo", timestamp=ts, body=body.encode()
            ),
        }
        intake = generic.parse(headers=headers, body=body.encode(), secret=SECRET, now=now)
    elif shape == "github":
        data = next(e for e in examples("deployment_status") if e["deployment_status"]["state"] == "success")
        data["deployment"]["payload"] = {"version": "1.0.0", "artifact": RESTORED}
        data["deployment_status"]["environment"] = "prod"
        raw = json.dumps(data).encode()
        headers = {
            "X-GitHub-Event": "deployment_status",
            "X-GitHub-Delivery": "d-echo",
            "X-Hub-Signature-256": sign_github(secret="s", body=raw),
        }
        intake = github.parse(headers=headers, body=raw, secret="s", now=now, query={"service": "app"})
    else:
        data = argocd_deployed(app="app", environment="prod", images=[RESTORED], version="1.0.0")
        intake = argocd.parse(
            headers={"X-Watchdog-Token": "tok"}, body=json.dumps(data).encode(), secret="tok", now=now
        )
    assert intake.event is not None
    return intake.event


@pytest.mark.parametrize("shape", ["generic", "github", "argocd"])
async def test_an_echoed_rollback_is_verified_and_not_rolled_back(
    tmp_path: Path, target: RecordingTarget, shape: str
) -> None:
    degraded = {"on": False}  # after the rollback a dependency breaks: the echo fails its verification too

    def script(version: str, k: int) -> Measurement:
        m = rate(100 if "bad" in version or degraded["on"] else 1)
        return Measurement(values={**m.values, "up": 1.0})

    h = build(tmp_path, policy=POLICY, script=script, target=target)
    for good in ("0.9.0", "1.0.0"):  # two verified artifacts: the echo would have somewhere to go back to
        h.deploy(good)
        await h.run_for(60)
    bad = h.deploy("1.1.0-bad")
    await h.run_for(60)
    assert h.state(bad).state == "rolled_back" and [c.artifact for c in target.calls] == [RESTORED]
    [rb] = h.store.rollbacks_for(bad)

    degraded["on"] = True
    echo = accept(h, echo_event(shape, h.clock.now()), source=shape)
    d = h.store.get_deployment(echo)
    assert (d.echo_of, d.rollback_of, d.is_rollback) == (rb.id, bad, True)
    assert "the echo of rollback" in h.store.transitions_for(echo)[0].reason
    await h.run_for(60)
    v = h.state(echo)
    assert v.state == "failed"  # verified like any deploy ...
    [refusal] = h.store.rollbacks_for(echo)  # ... but never rolled back by the daemon
    assert refusal.state == "refused" and "itself a rollback" in refusal.reason
    assert len(target.calls) == 1


async def test_the_same_artifact_long_after_the_rollback_is_an_ordinary_deploy(
    tmp_path: Path, target: RecordingTarget
) -> None:
    from tests.engine.test_engine import combined

    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    h.deploy("1.1.0-bad")
    await h.run_for(60)
    h.clock.advance(3601)  # no longer recent
    later = accept(h, echo_event("argocd", h.clock.now()), source="argocd")
    d = h.store.get_deployment(later)
    assert (d.echo_of, d.is_rollback) == (None, False)


def accept(h: Harness, event: DeployEvent, *, source: str) -> str:
    policy = h.holder.current.policy("app", "prod")
    assert policy is not None
    acc = h.store.accept_event(
        event=event,
        source=source,
        delivery_id=None,
        policy=policy.model_dump(mode="json", by_alias=True),
        now=h.clock.now(),
    )
    return acc.deployment.id
