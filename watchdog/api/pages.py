"""What the dashboard pages show, built from the store's rows: plain dicts for the Jinja2 templates.

One state vocabulary (label, colour class, symbol), so the list, the page and the legend agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from watchdog.api.views_deployment import deployment_view
from watchdog.engine.prepared import baselines_of
from watchdog.events import SAMPLING, State
from watchdog.policy.connections import SourceConfig
from watchdog.policy.interned import shared_policy
from watchdog.redact import redact
from watchdog.reports.charts import render_chart
from watchdog.reports.model import CheckEvidence, ReportInput, evidence, fmt
from watchdog.reports.summary import summary_sentence
from watchdog.store.records import DeploymentDetail, DeploymentRow, StableRow, VerificationRow


@dataclass(frozen=True)
class StateLook:
    label: str
    symbol: str  # never colour alone: each state has its own sign as well
    meaning: str


STATES: dict[str, StateLook] = {
    "pending": StateLook("pending", "…", "accepted, first sample not yet due"),
    "warming": StateLook("warming", "…", "samples kept, not judged yet"),
    "verifying": StateLook("verifying", "◔", "samples being judged"),
    "passed": StateLook("passed", "✓", "verified: the artifact is stable"),
    "promoted": StateLook("promoted", "★", "an operator declared it good"),
    "failed": StateLook("failed", "✗", "a check reached its failure limit"),
    "inconclusive": StateLook("inconclusive", "?", "too little conclusive data"),
    "rolling_back": StateLook("rolling back", "↺", "restoring the previous stable artifact"),
    "rolled_back": StateLook("rolled back", "↩", "bad deploy undone, restored version verified"),
    "rollback_failed": StateLook("rollback failed", "‼", "the rollback did not work: act now"),
    "superseded": StateLook("superseded", "»", "a newer deploy replaced it"),
    "cancelled": StateLook("cancelled", "–", "an operator stopped the verification"),
}


def web_url(url: str | None) -> str | None:
    """An event's URL as a link only when it is http(s): `javascript:` and friends never become links."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def utc(dt: datetime | None) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if dt else "—"


def state_badge(state: str) -> dict[str, str]:
    look = STATES.get(state, StateLook(state, "•", state))
    return {"state": state, "label": look.label, "symbol": look.symbol, "meaning": look.meaning}


def list_row(d: DeploymentRow, v: VerificationRow) -> dict[str, Any]:
    return {
        "id": d.id,
        "service": d.service,
        "environment": d.environment,
        "version": d.version,
        "received_at": utc(d.received_at),
        "deployed_at": utc(d.deployed_at),
        "verdict": v.verdict or "",
        "badge": state_badge(v.state),
        "is_rollback": d.is_rollback,
        # Samples due so far of the window, while it runs: "4 / 20".
        "progress": f"{max(0, v.next_k - 1)} / {v.samples_total}" if State(v.state) in SAMPLING else "",
    }


def _report_input(
    detail: DeploymentDetail,
    *,
    previous: StableRow | None,
    now: datetime,
    sources: dict[str, SourceConfig],
) -> ReportInput:
    return ReportInput(
        detail=detail,
        policy=shared_policy(detail.deployment.policy),
        previous_stable=previous,
        baselines=baselines_of(detail.verification),
        links={},
        now=now,
        sources=sources,
    )


def _check(ev: CheckEvidence, *, total: int, index: int) -> dict[str, Any]:
    taken = len(ev.points)
    last = ev.points[-1] if ev.points else None
    return {
        "index": index,
        "name": ev.name,
        "type": ev.type,
        "failed": ev.failed,
        "taken": taken,
        "total": total,
        "percent": round(100 * taken / total) if total else 0,
        "threshold": ev.threshold_text,
        "baseline": ev.baseline_text,
        "observed": ev.observed_text,
        "counts": ev.counts_text,
        "reason": redact(ev.reason),
        "last_value": fmt(last.value, ev.unit) if last else "no sample yet",
        "cells": [
            {
                "k": i + 1,
                "t": f"{p.t:g}",
                "kind": "warm" if p.warmup else p.outcome,
                "value": fmt(p.value, ev.unit),
                "reason": redact(p.reason),
            }
            for i, p in enumerate(ev.points)
        ],
        "restored": [
            {"t": f"{p.t:g}", "kind": p.outcome, "value": fmt(p.value, ev.unit), "reason": redact(p.reason)}
            for p in ev.restored
        ],
    }


def deployment_context(
    detail: DeploymentDetail,
    *,
    previous: StableRow | None,
    now: datetime,
    sources: dict[str, SourceConfig],
) -> dict[str, Any]:
    """The template context of one deployment page (charts are served one by one: `chart`)."""
    report = _report_input(detail, previous=previous, now=now, sources=sources)
    view = deployment_view(detail, previous_stable=previous)
    d, v = detail.deployment, detail.verification
    evs = evidence(report)
    restored = {rv.id: rv for rv in detail.rollback_verifications}
    rollbacks = [
        {
            "id": r.id,
            "trigger": r.trigger,
            "state": r.state,
            "reason": redact(r.reason),
            "target": r.target or "—",
            "to": f"{r.to_version} ({r.to_artifact})" if r.to_version else "nothing to restore",
            "attempts": r.attempts,
            "requested_at": utc(r.requested_at),
            "finished_at": utc(r.finished_at),
            "verification": (
                {
                    "state": restored[r.verification_id].state,
                    "badge": state_badge(restored[r.verification_id].state),
                    "reason": redact(restored[r.verification_id].reason),
                }
                if r.verification_id in restored
                else None
            ),
        }
        for r in detail.rollbacks
    ]
    running = State(v.state) in SAMPLING or v.state == State.ROLLING_BACK.value
    context = {
        "d": d,
        "v": v,
        "badge": state_badge(v.state),
        "running": running,
        "summary": summary_sentence(report) if v.verdict else None,
        "reasons": view.reasons,
        "checks": [_check(ev, total=v.samples_total, index=i) for i, ev in enumerate(evs)],
        "rollbacks": rollbacks,
        "previous": previous,
        "incident": detail.incident,
        "deployed_at": utc(d.deployed_at),
        "received_at": utc(d.received_at),
        "changelog": web_url(d.changelog_url),
        "finished_at": utc(v.finished_at),
        "next_sample_at": utc(v.next_sample_at) if v.next_sample_at else None,
        "decided": f"{v.decided_after_s:g} s after deploy" if v.decided_after_s is not None else None,
        "transitions": [
            {"at": utc(t.at), "from": t.from_state or "new", "to": t.to_state, "reason": redact(t.reason)}
            for t in detail.transitions
        ],
        "can_review": any(r.state not in ("refused", "dry_run") for r in detail.rollbacks),
    }
    return context


def chart(
    detail: DeploymentDetail,
    *,
    index: int,
    previous: StableRow | None,
    now: datetime,
    sources: dict[str, SourceConfig],
) -> str | None:
    """The SVG chart of check number `index` (policy order), None when there is no such check."""
    evs = evidence(_report_input(detail, previous=previous, now=now, sources=sources))
    if not 0 <= index < len(evs):
        return None
    ev, d = evs[index], detail.deployment
    return render_chart(ev, title=f"{ev.name} ({ev.type}) after {d.service} {d.version}")
