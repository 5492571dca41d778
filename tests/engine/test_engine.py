"""The lifecycle on a fake clock: pass, fail at the predicted sample, rollback, guard rails, restarts.

Real SQLite store, real analysis, real reports; sources and target are scripted per sample.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.engine.conftest import POLICY, T0, RecordingTarget, build, rate
from watchdog.analysis.models import Measurement


def good_or_bad(version: str, k: int) -> Measurement:
    """`bad` versions serve 10% errors from the first sample; everything else 0.1%."""
    return rate(100 if "bad" in version else 1)


def combined(version: str, k: int) -> Measurement:
    # One script serves both checks: the http check reads "up", the error_rate check "errors"/"requests".
    m = good_or_bad(version, k)
    return Measurement(values={**m.values, "up": 1.0})


def policy_with(**changes: Any) -> dict[str, Any]:
    p = copy.deepcopy(POLICY)
    p["defaults"].update(changes)
    return p


async def test_good_deploy_passes_and_becomes_stable(tmp_path: Path, target: RecordingTarget) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    dep = h.deploy("1.0.0")
    await h.run_for(60)
    v = h.state(dep)
    assert v.state == "passed" and v.verdict == "passed"
    assert v.decided_after_s == 60.0
    history = h.store.stable_history(service="app", environment="prod")
    assert [(r.version, r.status) for r in history] == [("1.0.0", "stable")]
    samples = h.store.samples_for(v.id)
    assert len(samples) == 12  # 6 samples x 2 checks, none duplicated
    assert [s.warmup for s in samples if s.check_name == "errors"] == [
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert not target.calls


async def test_bad_deploy_fails_at_the_limit_and_rolls_back_to_the_stable_artifact(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    good = h.deploy("1.0.0")
    await h.run_for(60)
    assert h.state(good).state == "passed"
    bad = h.deploy("1.1.0-bad")
    await h.run_for(30)
    v = h.state(bad)
    # k=1 (t=10s) is warm-up; k=2 and k=3 fail; failure_limit 2 -> failed at t=30s exactly.
    assert v.verdict == "failed" and v.decided_after_s == 30.0 and v.failed_checks == ["errors"]
    assert [c.artifact for c in target.calls] == ["reg/app@sha256:1.0.0"]
    assert target.calls[0].failed_version == "1.1.0-bad"
    await h.run_for(20)
    detail = h.store.deployment_detail(bad)
    assert detail.verification.state == "rolled_back"
    states = [t.to_state for t in detail.transitions if t.verification_id == v.id]
    assert states[:1] == ["pending"] and states[-3:] == ["failed", "rolling_back", "rolled_back"]
    [rb] = detail.rollbacks
    assert rb.state == "verified" and rb.to_version == "1.0.0" and rb.trigger == "auto"
    assert detail.rollback_verifications[0].state == "passed"
    assert h.store.artifact_status(service="app", environment="prod", artifact="reg/app@sha256:1.1.0-bad")
    assert detail.incident is not None and Path(detail.incident.path).exists()
    text = Path(detail.incident.path).read_text()
    assert "1.1.0-bad" in text and "1.0.0" in text


async def test_newer_deploy_supersedes_the_running_verification(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    first = h.deploy("1.0.0")
    await h.run_for(20)
    second = h.deploy("1.0.1")
    await h.run_for(60)
    assert h.state(first).state == "superseded"
    assert h.state(second).state == "passed"
    ks = [s.k for s in h.store.samples_for(h.state(first).id) if s.check_name == "errors"]
    assert ks == [1, 2]  # nothing sampled after it was superseded


async def test_no_data_is_inconclusive_and_never_rolls_back(tmp_path: Path, target: RecordingTarget) -> None:
    def no_data(version: str, k: int) -> Measurement:
        return Measurement(values={"up": 1.0, "errors": None, "requests": None}, note="no data")

    h = build(tmp_path, policy=POLICY, script=no_data, target=target)
    h.store.mark_stable(
        service="app",
        environment="prod",
        version="0.9.0",
        artifact="reg/app@sha256:0.9.0",
        deployment_id=None,
        now=T0,
    )
    dep = h.deploy("1.0.0")
    await h.run_for(60)
    v = h.state(dep)
    assert v.state == "inconclusive" and not target.calls
    assert h.store.rollbacks_for(dep) == []


async def test_restart_resumes_without_inventing_or_duplicating_samples(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target, owner="replica-a")
    dep = h.deploy("1.0.0")
    await h.run_for(20)  # samples 1 and 2 taken, then replica-a dies (no more ticks)
    h.clock.advance(25)  # its 30 s lease lapses; samples 3 and 4 come due while nobody runs
    h2 = build(
        tmp_path,
        policy=POLICY,
        script=combined,
        target=target,
        engine_store=h.store,
        clock=h.clock,
        owner="replica-b",
    )
    await h2.run_for(30)
    v = h2.state(dep)
    assert v.state == "passed"
    ks = [s.k for s in h2.store.samples_for(v.id) if s.check_name == "errors"]
    assert len(ks) == len(set(ks)) and 3 not in ks and ks[-1] == 6
    notes = [t.reason for t in h2.store.transitions_for(dep) if t.reason.startswith("gap")]
    assert notes and "samples 3-3" not in notes[0] and "missed" in notes[0]


async def test_second_bad_deploy_in_the_hour_is_refused_by_max_per_hour(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)  # max_per_hour: 1
    h.deploy("1.0.0")
    await h.run_for(60)
    first_bad = h.deploy("1.1.0-bad")
    await h.run_for(60)
    assert h.state(first_bad).state == "rolled_back"
    second_bad = h.deploy("1.2.0-bad")
    await h.run_for(40)
    v = h.state(second_bad)
    assert v.state == "failed"
    [refusal] = h.store.rollbacks_for(second_bad)
    assert refusal.state == "refused" and "max_per_hour 1" in refusal.reason
    assert len(target.calls) == 1


async def test_no_known_stable_artifact_alerts_instead(tmp_path: Path, target: RecordingTarget) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    dep = h.deploy("1.0.0-bad")
    await h.run_for(40)
    [refusal] = h.store.rollbacks_for(dep)
    assert refusal.state == "refused" and "no previous stable artifact" in refusal.reason
    assert h.state(dep).state == "failed" and not target.calls


async def test_previous_artifact_on_the_first_event_seeds_an_assumed_stable(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    dep = h.deploy("1.10.0-bad", previous_version="1.9.0", previous_artifact="reg/app@sha256:1.9.0")
    await h.run_for(40)
    assert [c.artifact for c in target.calls] == ["reg/app@sha256:1.9.0"]
    assert h.state(dep).state == "rolling_back"


async def test_dry_run_records_what_would_have_happened(tmp_path: Path, target: RecordingTarget) -> None:
    h = build(tmp_path, policy=policy_with(on_failure="none"), script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    dep = h.deploy("1.1.0-bad")
    await h.run_for(40)
    [row] = h.store.rollbacks_for(dep)
    assert row.state == "dry_run" and "would have rolled back to 1.0.0" in row.reason
    assert not target.calls and h.state(dep).state == "failed"


async def test_failed_target_call_is_rollback_failed(tmp_path: Path) -> None:
    target = RecordingTarget(fail="deployment checkout: 403 Forbidden")
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    dep = h.deploy("1.1.0-bad")
    await h.run_for(40)
    v = h.state(dep)
    assert v.state == "rollback_failed" and "403 Forbidden" in v.reason
    assert h.store.rollbacks_for(dep)[0].state == "failed"


async def test_restored_version_that_fails_its_check_is_rollback_failed(
    tmp_path: Path, target: RecordingTarget
) -> None:
    def flaky(version: str, k: int) -> Measurement:
        # 1.0.0 is healthy until it is restored: then its rollback check fails.
        healthy = version != "1.0.0" or not target.calls
        m = good_or_bad(version, k)
        return Measurement(
            values={**m.values, "up": 1.0 if healthy else 0.0}, note=None if healthy else "down"
        )

    h = build(tmp_path, policy=POLICY, script=flaky, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    dep = h.deploy("1.1.0-bad")
    await h.run_for(60)
    assert h.state(dep).state == "rollback_failed"
    assert "did not verify" in h.state(dep).reason


async def test_crash_between_intent_and_outcome_checks_the_target_first(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    dep = h.deploy("1.1.0-bad")
    h.store.mark_bad(
        service="app",
        environment="prod",
        version="1.1.0-bad",
        artifact="reg/app@sha256:1.1.0-bad",
        deployment_id=dep,
        now=h.clock.now(),
        reason="failed",
    )
    h.write_intent(dep, attempted_by="test-1")
    # The daemon died after the target call went out: the target already runs 1.0.0.
    target.running = "reg/app@sha256:1.0.0"
    h2 = build(
        tmp_path,
        policy=POLICY,
        script=combined,
        target=target,
        engine_store=h.store,
        clock=h.clock,
        owner="test-1",  # the same instance, restarted: it takes its own claim back at once
    )
    assert await h2.engine.worker.run_once() == 1
    await h2.engine.settle()
    assert target.calls == []  # not deployed a second time
    await h2.run_for(20)
    assert h2.state(dep).state == "rolled_back"
    row = h2.store.rollbacks_for(dep)[0]
    assert "after a restart; not deployed again" in row.reason


async def test_crash_before_the_call_calls_the_target_once(tmp_path: Path, target: RecordingTarget) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    dep = h.deploy("1.1.0-bad")
    target.running = "reg/app@sha256:1.1.0-bad"
    h.write_intent(dep, attempted_by="test-1")  # counted, then died before the call went out
    await h.engine.settle()
    assert [c.artifact for c in target.calls] == ["reg/app@sha256:1.0.0"]
    await h.run_for(20)
    assert h.state(dep).state == "rolled_back"


async def test_operator_promote_cancel_and_manual_rollback(tmp_path: Path, target: RecordingTarget) -> None:
    import pytest

    from watchdog.errors import Refused

    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    first = h.deploy("1.0.0")
    await h.run_for(10)
    promoted = await h.engine.promote(first, by="alice")
    assert promoted.state == "promoted"
    assert h.store.stable_history(service="app", environment="prod")[0].version == "1.0.0"
    second = h.deploy("1.0.1")
    await h.run_for(10)
    cancelled = await h.engine.cancel(second, by="bob")
    assert cancelled.state == "cancelled"
    with pytest.raises(Refused):
        await h.engine.cancel(second, by="bob")
    third = h.deploy("1.0.2")
    await h.run_for(10)
    row = await h.engine.request_rollback(third, by="carol", reason="customers report errors")
    await h.engine.settle()
    assert row.trigger == "manual" and [c.artifact for c in target.calls] == ["reg/app@sha256:1.0.0"]
    with pytest.raises(Refused):
        await h.engine.request_rollback(third, by="carol", reason="again")


async def test_every_guard_rail_refusal_is_recorded_with_its_reason(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    h.store.set_freeze(
        service="app",
        environment="prod",
        reason="release freeze for the sale",
        created_by="sre",
        expires_at=None,
        now=h.clock.now(),
    )
    frozen = h.deploy("1.1.0-bad")
    await h.run_for(40)
    h.store.delete_freeze(service="app", environment="prod")
    migration = h.deploy("1.2.0-bad", rollback_safe=False)
    await h.run_for(40)
    itself = h.deploy("1.3.0-bad", is_rollback=True)
    await h.run_for(40)
    major = h.deploy("2.0.0-bad")
    await h.run_for(40)
    expected = {
        frozen: "frozen for app/prod: release freeze for the sale",
        migration: "not rollback-safe",
        itself: "itself a rollback",
        major: "crosses a SemVer major version",
    }
    for dep, words in expected.items():
        [row] = h.store.rollbacks_for(dep)
        assert row.state == "refused" and words in row.reason, row.reason
        assert h.state(dep).state == "failed"
        detail = h.store.deployment_detail(dep)
        assert detail.incident is not None and words in Path(detail.incident.path).read_text()
    assert not target.calls


async def test_an_intent_another_live_replica_holds_is_left_to_it_until_its_lease_lapses(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target, owner="replica-a")
    h.deploy("1.0.0")
    await h.run_for(60)
    dep = h.deploy("1.1.0-bad")
    # replica-a is calling the target right now: it wrote the intent and holds the claim on its call.
    h.write_intent(dep, attempted_by="replica-a")
    target.running = "reg/app@sha256:1.1.0-bad"
    b = build(
        tmp_path,
        policy=POLICY,
        script=combined,
        target=target,
        engine_store=h.store,
        clock=h.clock,
        owner="replica-b",
    )
    assert await b.engine.worker.run_once() == 0 and target.calls == []
    h.clock.advance(31)  # replica-a died: its claim lapses
    assert await b.engine.worker.run_once() == 1
    await b.engine.settle()
    assert [c.artifact for c in target.calls] == ["reg/app@sha256:1.0.0"]


async def test_notifications_follow_the_lifecycle_without_blocking_it(
    tmp_path: Path, target: RecordingTarget
) -> None:
    import json

    from tests.notify.receiver import receiver

    # The receiver fails twice first: the rollback must not wait for it, the message still arrives once.
    with receiver(statuses=[500, 500]) as rx:
        hook = {"type": "webhook", "url": rx.url, "events": ["started", "failed", "rolled_back"]}
        policy = policy_with(notify=["hook"])
        h = build(tmp_path, policy=policy, script=combined, target=target, notifiers={"hook": hook})
        h.deploy("1.0.0")
        await h.run_for(60)
        bad = h.deploy("1.1.0-bad")
        await h.run_for(50)
        assert h.state(bad).state == "rolled_back"
        await h.engine.announcer.drain(timeout=5)
        payloads = [json.loads(r.body)["data"] for r in rx.requests]
        events = [(p["event"], p["version"]) for p in payloads]
    delivered = [e for e in events if e[1] == "1.1.0-bad"]
    assert ("failed", "1.1.0-bad") in delivered and ("rolled_back", "1.1.0-bad") in delivered
    assert ("started", "1.0.0") in events and all(e[0] != "passed" for e in events)


async def test_an_interrupted_rollback_never_undoes_a_newer_deploy(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    dep = h.deploy("1.1.0-bad")
    h.write_intent(dep)
    h.clock.advance(5)
    h.deploy("1.1.1")  # the team fixed forward while the daemon was down
    await h.engine.settle()
    assert target.calls == []
    [row] = h.store.rollbacks_for(dep)
    assert row.state == "refused" and "a newer deploy (1.1.1)" in row.reason
    assert h.state(dep).state == "rollback_failed"
