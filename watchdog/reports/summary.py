"""The one-sentence summary with numbers that opens a report and every notification, and the per-check
lines that go with it: "error rate rose from 0.4% to 6.1% (limit 2.0%) 90 s after checkout 2.4.1 ...".
"""

from __future__ import annotations

from watchdog.reports.model import CheckEvidence, ReportInput, evidence, fmt, secs
from watchdog.store.records import RollbackRow

# Rollback row states that mean "the target was asked to redeploy" (refused and dry_run never were).
_ACTED = frozenset({"intent", "succeeded", "failed", "verifying", "verified", "verify_failed"})


def _what(ev: CheckEvidence) -> str:
    if ev.type == "error_rate":
        return "error rate"
    if ev.type == "latency":
        return ev.name if "latency" in ev.name else f"{ev.name} latency"
    if ev.type == "http":
        return f"{ev.name} probe"
    return ev.name


def _limit(ev: CheckEvidence) -> str:
    if ev.limit is not None:
        return f"limit {fmt(ev.limit, ev.unit)}"
    return ev.threshold_text


def check_phrase(ev: CheckEvidence) -> str:
    """What went wrong with one check, in numbers: "error rate rose from 0.4% to 6.1% (limit 2.0%)"."""
    point = ev.deciding
    if ev.type == "http":
        return f"{_what(ev)} failed ({point.reason if point else 'no answer'})"
    value = point.value if point is not None else None
    if value is None:
        return f"{_what(ev)} had no data"
    if ev.baseline_value is None:
        return f"{_what(ev)} reached {fmt(value, ev.unit)} ({_limit(ev)})"
    verb = "fell" if value < ev.baseline_value else "rose"
    return (
        f"{_what(ev)} {verb} from {fmt(ev.baseline_value, ev.unit)} to {fmt(value, ev.unit)} ({_limit(ev)})"
    )


def _duration(report: ReportInput, row: RollbackRow) -> float | None:
    """From the request to the restored version being verified (the rolled_back transition), else finished."""
    done = [t.at for t in report.detail.transitions if t.to_state == "rolled_back"]
    end = done[-1] if done else row.finished_at
    return None if end is None else (end - row.requested_at).total_seconds()


def _rollback_tail(report: ReportInput) -> str:
    detail = report.detail
    rows = detail.rollbacks
    acted = [r for r in rows if r.state in _ACTED]
    state = detail.verification.state
    if acted:
        row = acted[-1]
        to = row.to_version or "the previous stable version"
        if state == "rolled_back":
            took = _duration(report, row)
            return f"rolled back to {to}" + (f" in {secs(round(took))}" if took is not None else "")
        if state == "rollback_failed":
            tries = f"{row.attempts} attempt(s)"
            return f"rollback to {to} FAILED after {tries} ({row.reason}): manual rollback needed"
        return f"rolling back to {to}"
    refused = [r for r in rows if r.state == "refused"]
    if refused:
        return f"automatic rollback refused: {refused[-1].reason}"
    dry = [r for r in rows if r.state == "dry_run"]
    if dry:
        return f"dry run: would have rolled back to {dry[-1].to_version or 'the previous stable version'}"
    action = detail.verification.action or report.policy.on_failure
    if action == "alert":
        return "alert only (on_failure: alert): not rolled back"
    if action == "none":
        return "dry run (on_failure: none): nothing was done"
    return "rollback pending"


def summary_sentence(report: ReportInput) -> str:
    """The sentence a person reads first; its variants follow the verdict and what was done about it."""
    detail = report.detail
    dep, ver = detail.deployment, detail.verification
    who = f"{dep.service} {dep.version}"
    after = secs(ver.decided_after_s) if ver.decided_after_s is not None else "?"
    checks = evidence(report)
    verdict = ver.verdict or ver.state
    if verdict == "failed":
        failed = [ev for ev in checks if ev.failed] or [ev for ev in checks if ev.failing]
        phrase = " and ".join(check_phrase(ev) for ev in failed) or f"verification failed ({ver.reason})"
        return f"{phrase} {after} after {who} reached {dep.environment}; {_rollback_tail(report)}."
    if verdict == "inconclusive":
        need = report.policy.verification.min_conclusive
        short = [
            f"{ev.name} had {ev.conclusive} of {len(ev.judged)} judged samples conclusive "
            f"(needs {need * 100:.0f}%)"
            for ev in checks
            if len(ev.judged) == 0 or ev.conclusive / len(ev.judged) < need
        ]
        why = "; ".join(short) or ver.reason
        action = ver.action or report.policy.on_inconclusive
        tail = {
            "alert": "alert only, nothing rolled back (on_inconclusive: alert)",
            "none": "nothing was done (on_inconclusive: none)",
        }.get(action, _rollback_tail(report))
        return f"{who} in {dep.environment} was inconclusive after {after}: {why}; {tail}."
    if verdict == "passed":
        judged = sum(len(ev.judged) for ev in checks)
        return (
            f"{who} passed verification in {dep.environment} after {after}: "
            f"{len(checks)} checks, {judged} judged samples, none failing."
        )
    return f"{who} in {dep.environment} is {ver.state}: {ver.reason}."


def check_lines(report: ReportInput) -> list[str]:
    """One line per check for chat messages: name, failing count, observed, threshold, reason."""
    return [
        f"{ev.name}: {ev.failing}/{len(ev.judged)} failing; {ev.observed_text} ({ev.threshold_text}); "
        f"{ev.reason}"
        for ev in evidence(report)
    ]
