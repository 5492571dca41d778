"""The policy of a rollback's verification, derived from the environment's policy: window and checks.

By default every check of the environment verifies the restored version, not only the http probes.
"""

from __future__ import annotations

from watchdog.policy.checks import HttpCheck
from watchdog.policy.rules import AnyCheck
from watchdog.policy.service import EnvironmentPolicy, Verification


def rollback_checks(policy: EnvironmentPolicy) -> list[AnyCheck]:
    """The checks named by `rollback.verification.checks`: all, http, or a list of names and/or checks."""
    chosen = policy.rollback.verification.checks
    if chosen == "all":
        return list(policy.checks)
    if chosen == "http":
        return [c for c in policy.checks if isinstance(c, HttpCheck)]
    by_name = {c.name: c for c in policy.checks}
    # A name the rules refused never reaches here; skipping it keeps a stored old policy readable.
    return [
        by_name[item] if isinstance(item, str) else item
        for item in chosen
        if not isinstance(item, str) or item in by_name
    ]


def rollback_verification_policy(policy: EnvironmentPolicy) -> EnvironmentPolicy:
    """What verifies the restored version: the rollback window, the chosen checks, and never a further action.

    The baseline window stays the environment's: the engine compares the restored version with the baseline
    captured before the failed deploy, i.e. with how this same stable version behaved.
    """
    rv = policy.rollback.verification
    timing = Verification(
        duration=rv.duration,
        interval=rv.interval,
        warmup=rv.warmup,
        failure_limit=rv.failure_limit,
        min_conclusive=rv.min_conclusive,
        baseline_window=policy.verification.baseline_window,
    )
    return policy.model_copy(
        update={"verification": timing, "checks": rollback_checks(policy), "on_failure": "alert"}
    )
