"""What a verdict makes the engine do, by policy: rollback, alert or none (a dry run).

One function, so the engine, `simulate` and reports name the same action for the same verdict.
"""

from __future__ import annotations

from watchdog.analysis.models import Verdict

ACTIONS = ("rollback", "alert", "none")


def action_for(*, verdict: Verdict, on_failure: str, on_inconclusive: str) -> str:
    """`none` for a pass; the policy's on_failure / on_inconclusive otherwise."""
    if verdict is Verdict.PASSED:
        return "none"
    action = on_failure if verdict is Verdict.FAILED else on_inconclusive
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return action
