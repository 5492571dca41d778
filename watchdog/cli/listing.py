"""How `watchdog status` and `history` print deployments: ids to paste, times marked UTC.

`-o table` (default), `-o wide` (more columns, transitions), `-o json` (the daemon's answer, like --json).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

OUTPUTS = ("table", "wide", "json")


def when(value: str | None) -> str:
    """ISO 8601 in UTC with its Z, to the second: `2026-11-01T12:00:00Z`."""
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def summaries(items: list[dict[str, Any]], *, with_service: bool, wide: bool) -> str:
    header = [
        "ID",
        "DEPLOYED (UTC)",
        *(["SERVICE", "ENV"] if with_service else ["ENV"]),
        "VERSION",
        "ARTIFACT",
        "STATE",
        "VERDICT",
    ]
    if wide:
        header += ["RECEIVED (UTC)", "DEPLOYER", "SOURCE", "ROLLBACK"]
    rows = []
    for i in items:
        row = [
            i["id"],
            when(i["deployed_at"]),
            *([i["service"], i["environment"]] if with_service else [i["environment"]]),
            i["version"],
            i["artifact"],
            i["state"],
            i.get("verdict") or "-",
        ]
        if wide:
            rollback = "yes" if i.get("is_rollback") else "no"
            row += [when(i.get("received_at")), i.get("deployer") or "-", i.get("source") or "-", rollback]
        rows.append(row)
    return table(rows, header) if rows else "no deployments"


def describe(d: dict[str, Any], *, wide: bool) -> str:
    v = d.get("verification") or {}
    lines = [
        f"id        {d['id']}",
        f"deploy    {d['service']} {d['environment']} {d['version']}",
        f"artifact  {d['artifact']}",
        f"state     {d['state']}" + (f" (verdict {d['verdict']})" if d.get("verdict") else ""),
        f"deployed  {when(d.get('deployed_at'))} by {d.get('deployer') or '-'}",
        f"received  {when(d.get('received_at'))} from {d.get('source') or '-'}",
    ]
    if v.get("finished_at"):
        lines.append(f"decided   {when(v['finished_at'])}")
    lines += [f"reason    {r}" for r in d.get("reasons", [])]
    if d.get("rollback"):
        r = d["rollback"]
        to = r.get("to_version") or "-"
        lines.append(
            f"rollback  {r['id']} {r['state']} to {to} at {when(r.get('requested_at'))}: {r['reason']}"
        )
    if d.get("incident"):
        i = d["incident"]
        lines.append(f"incident  {i['id']} {i['url']}")
    if wide:
        lines.append("transitions (UTC):")
        for t in d.get("transitions", []):
            lines.append(f"  {when(t['at'])}  {t.get('from_state') or '-'} -> {t['to_state']}: {t['reason']}")
    return "\n".join(lines)
