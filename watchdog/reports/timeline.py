"""The post-mortem's timeline: the moments that matter, with the state noise folded away.

pending -> warming -> verifying of one verification becomes one "verification started" row; the first
failing sample of each check, the verdict, the rollback and the restored version's verdict stay.
"""

from __future__ import annotations

from datetime import UTC, datetime

from watchdog.reports.model import ReportInput, secs

_START = {"pending", "warming", "verifying"}


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def timeline(report: ReportInput) -> list[dict[str, str]]:
    detail = report.detail
    dep = detail.deployment
    at0 = dep.deployed_at
    kinds = {v.id: v.kind for v in [detail.verification, *detail.rollback_verifications]}
    events: list[tuple[datetime, int, str]] = [(at0, 0, f"{dep.version} deployed")]
    started: dict[str, int] = {}  # verification id -> index of its "started" row
    folded: dict[str, list[str]] = {}
    for t in detail.transitions:
        restored = kinds.get(t.verification_id) == "rollback"
        what = "restored version" if restored else "verification"
        if t.to_state in _START and t.from_state != t.to_state:
            folded.setdefault(t.verification_id, []).append(t.to_state)
            if t.verification_id not in started:
                started[t.verification_id] = len(events)
                events.append((t.at, 1, f"{what} started: {t.reason}"))
            continue
        if t.from_state == t.to_state:  # a note without a state change (a gap, say): worth keeping
            events.append((t.at, 3, f"{what}: {t.reason}"))
            continue
        label = t.to_state.replace("_", " ")
        events.append((t.at, 4, f"{what} {label}: {t.reason}"))
    first_fail: dict[str, tuple[float, str]] = {}
    for s in sorted(detail.samples, key=lambda s: s.k):
        if s.outcome == "fail" and not s.warmup and s.check_name not in first_fail:
            first_fail[s.check_name] = (s.t, s.reason)
            events.append((s.taken_at, 2, f"first failing sample of {s.check_name}: {s.reason}"))
    for r in detail.rollbacks:
        to = r.to_version or "nothing"
        if r.state == "refused":
            events.append((r.requested_at, 5, f"rollback ({r.trigger}) refused: {r.reason}"))
            continue
        if r.state == "dry_run":
            events.append((r.requested_at, 5, f"dry run: {r.reason}"))
            continue
        events.append((r.requested_at, 5, f"rollback ({r.trigger}) to {to} requested"))
        if r.finished_at is not None:
            events.append((r.finished_at, 6, f"rollback {r.state}: {r.reason}"))
    for vid, index in started.items():
        states = folded[vid]
        if len(states) > 1:  # say what was folded, so nobody wonders where warming went
            at, rank, text = events[index]
            events[index] = (at, rank, f"{text} ({' → '.join(states)})")
    events.sort(key=lambda e: (e[0], e[1]))
    rows = []
    for at, _, text in events:
        offset = (at - at0).total_seconds()
        rows.append(
            {
                "at": _utc(at),
                "offset": ("+" if offset >= 0 else "−") + secs(abs(round(offset, 1))),
                "text": text,
            }
        )
    return rows
