"""What a verdict obliges, as pending actions written in the verdict's own transaction (the outbox).

Pure: the verifier asks once, with the action it computed once; the worker carries the list out.
"""

from __future__ import annotations

from watchdog.analysis.models import Decision, Verdict
from watchdog.policy.service import EnvironmentPolicy
from watchdog.store.actions import ActionSpec
from watchdog.store.records import VerificationRow

# The kinds of pending action, each with one handler in the worker.
MARK_STABLE = "mark_stable"
MARK_BAD = "mark_bad"
ROLLBACK = "rollback"  # decide: the guard rails, then the intent (with a target call) or the refusal
TARGET_CALL = "target_call"
FINISH_ROLLBACK = "finish_rollback"  # the restored version's verdict: rolled_back | rollback_failed
ANNOUNCE = "announce"  # the report, and one `notify` action per notifier
NOTIFY = "notify"


def announce(deployment_id: str, event: str) -> ActionSpec:
    return ActionSpec(kind=ANNOUNCE, deployment_id=deployment_id, payload={"event": event})


def on_start(v: VerificationRow, policy: EnvironmentPolicy) -> list[ActionSpec]:
    # Only a policy that notifies someone needs anything done at the start.
    return [announce(v.deployment_id, "started")] if v.kind == "deploy" and policy.notify else []


def on_verdict(
    v: VerificationRow, *, policy: EnvironmentPolicy, decision: Decision, action: str
) -> list[ActionSpec]:
    """The obligations of one verdict, in the order they should be carried out."""
    reason = "; ".join(decision.reasons) or decision.verdict.value
    dep = v.deployment_id
    if v.kind == "rollback":
        passed = decision.verdict == Verdict.PASSED
        payload = {"passed": passed, "reason": reason}
        return [ActionSpec(kind=FINISH_ROLLBACK, deployment_id=dep, verification_id=v.id, payload=payload)]
    if decision.verdict == Verdict.PASSED:
        mark = ActionSpec(kind=MARK_STABLE, deployment_id=dep, payload={"reason": "verification passed"})
        return [mark, *([announce(dep, "passed")] if policy.notify else [])]
    out: list[ActionSpec] = []
    if decision.verdict == Verdict.FAILED:
        out.append(ActionSpec(kind=MARK_BAD, deployment_id=dep, payload={"reason": reason}))
    failed = decision.verdict == Verdict.FAILED
    if action == "rollback" or (action == "none" and failed):
        # A dry run records what would have happened, through the same guard rails.
        payload = {"trigger": "auto", "reason": reason, "dry_run": action == "none"}
        out.append(ActionSpec(kind=ROLLBACK, deployment_id=dep, verification_id=v.id, payload=payload))
    else:
        out.append(announce(dep, "failed" if failed else "inconclusive"))
    return out
