"""What `watchdog backtest` prints: a table and a summary, or JSON lines ending with {"summary": ...}.

Times are UTC ISO 8601; the table's reason is cut to fit a line, the JSON keeps every reason whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from watchdog.backtest.deploys import PastDeploy
from watchdog.backtest.run import Replayed
from watchdog.backtest.summary import Summary

NOT_REPLAYABLE = "not replayable"
_REASON_WIDTH = 100


def row_json(r: Replayed) -> dict[str, object]:
    d = r.deploy
    return {
        "version": d.version,
        "artifact": d.artifact,
        "deployed_at": _iso(d),
        "label": d.label,
        "recorded_verdict": d.recorded.outcome if d.recorded else None,
        "replayed_verdict": r.verdict.value if r.verdict else NOT_REPLAYABLE,
        "action": r.action,
        "decided_after_s": r.decided_after_s,
        "failed_checks": list(r.failed_checks),
        "reasons": list(r.reasons),
        "not_replayed": dict(r.skipped),
        "why_not": r.why_not,
    }


def write_json(rows: Sequence[Replayed], summary: Summary, out: TextIO) -> None:
    for r in rows:
        out.write(json.dumps(row_json(r)) + "\n")
    out.write(json.dumps({"summary": summary.to_json()}) + "\n")


def write_table(rows: Sequence[Replayed], summary: Summary, out: TextIO) -> None:
    header = ("version", "deployed at", "recorded", "replayed", "decided after", "reason")
    table = [header] + [
        (
            r.deploy.version + (f" ({r.deploy.label})" if r.deploy.label else ""),
            _iso(r.deploy),
            r.deploy.recorded.outcome if r.deploy.recorded else "-",
            r.verdict.value if r.verdict else NOT_REPLAYABLE,
            "-" if r.decided_after_s is None else f"{r.decided_after_s:g}s",
            _cut(r.reason),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    for line in table:
        cells = [cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)]
        out.write("  ".join([*cells, line[-1]]).rstrip() + "\n")
    out.write("\n" + "\n".join(summary_lines(summary)) + "\n")


def summary_lines(s: Summary) -> list[str]:
    lines = [
        f"deploys: {s.deploys} ({s.replayed} replayed, {s.not_replayable} not replayable)",
        f"would roll back: {s.would_roll_back} (failed: {s.failed}); newly caught: {s.newly_caught}; "
        f"newly passed: {s.newly_passed}; inconclusive: {s.inconclusive}",
    ]
    if s.labelled:
        lines.append(
            f"labelled: {s.labelled}; false rollbacks: {s.false_rollbacks}; missed regressions: "
            f"{s.missed_regressions}; precision: {_pct(s.precision)}; recall: {_pct(s.recall)}"
        )
    median = "-" if s.median_time_to_decide_s is None else f"{s.median_time_to_decide_s:g}s"
    lines.append(f"median time to decide: {median}")
    return lines


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}" if x in (0.0, 1.0) else f"{x:.1%}"


def _iso(d: PastDeploy) -> str:
    return d.deployed_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cut(text: str) -> str:
    return text if len(text) <= _REASON_WIDTH else text[: _REASON_WIDTH - 1] + "…"
