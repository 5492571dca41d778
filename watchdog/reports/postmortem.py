"""Writes the post-mortem stub: Markdown from a Jinja2 template beside one SVG chart per check.

Updated in place: everything below the marker line belongs to the team and is kept byte for byte.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from watchdog.policy.checks import queries
from watchdog.policy.connections import DatadogSourceConfig, PrometheusSourceConfig, SentrySourceConfig
from watchdog.redact import redact
from watchdog.reports.charts import render_chart
from watchdog.reports.impact import impact_lines
from watchdog.reports.model import ReportInput, evidence, secs
from watchdog.reports.summary import summary_sentence
from watchdog.reports.timeline import timeline

MARKER = "<!-- watchdog: everything below this line is yours; it is kept on every update -->"
BUILTIN = Path(__file__).parent / "templates" / "postmortem.md.j2"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A file-name part: versions such as `2.4.1+build/7` become `2.4.1-build-7`, never a path."""
    return _UNSAFE.sub("-", text).strip("-.") or "unknown"


def report_stem(report: ReportInput) -> str:
    dep = report.detail.deployment
    day = dep.deployed_at.astimezone(UTC).strftime("%Y-%m-%d")
    return f"{day}-{safe_name(dep.service)}-{safe_name(dep.environment)}-{safe_name(dep.version)}"


def report_path(*, report: ReportInput, reports_dir: Path) -> Path:
    return reports_dir / f"{report_stem(report)}.md"


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: object) -> str:
    """Safe inside one Markdown table cell: no pipe ends it, no newline breaks the row."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _fence(text: str) -> str:
    """A code block no backtick run inside the text can close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"


def _links(report: ReportInput) -> list[tuple[str, str]]:
    """Dashboards of the policy, extra links, and one link per check into the source it queries."""
    dep, verification = report.detail.deployment, report.policy.verification
    out = list(report.policy.dashboards.items()) + list(report.links.items())
    start = dep.deployed_at - timedelta(seconds=verification.baseline_window)
    end = dep.deployed_at + timedelta(seconds=verification.duration)
    for check in report.policy.checks:
        src = report.sources.get(check.source or "")
        for role, query in queries(check).items():
            what = check.name if role == "value" else f"{check.name}, {role} query"
            if isinstance(src, DatadogSourceConfig) and query:
                app = f"https://{src.site}" if src.site.count(".") >= 2 else f"https://app.{src.site}"
                window = f"&from_ts={int(start.timestamp() * 1000)}&to_ts={int(end.timestamp() * 1000)}"
                out.append(
                    (
                        f"Datadog: {what}",
                        f"{app}/metric/explorer?exp_query={quote(query)}{window}",
                    )
                )
            elif isinstance(src, PrometheusSourceConfig) and query:
                out.append(
                    (
                        f"Prometheus: {what}",
                        f"{src.url.rstrip('/')}/graph?g0.expr={quote(query)}",
                    )
                )
        if isinstance(src, SentrySourceConfig):
            org, release = quote(src.organization), quote(dep.version, safe="")
            url = f"{src.url.rstrip('/')}/organizations/{org}/releases/{release}/"
            out.append((f"Sentry release {dep.version}", url))
    unique: dict[str, str] = {}
    for title, url in out:
        unique.setdefault(url, title)
    return [(title, url) for url, title in unique.items()]


def _queries(report: ReportInput) -> list[dict[str, str]]:
    """Every query a check ran, as written in the policy, with the source it ran on."""
    out = []
    for check in report.policy.checks:
        for role, query in queries(check).items():
            if query:
                out.append({"check": check.name, "role": role, "source": check.source or "", "query": query})
    return out


def _appendix(report: ReportInput) -> list[dict[str, str]]:
    """One row per stored sample: the deploy's, then the restored version's."""
    detail = report.detail
    at0 = detail.deployment.deployed_at
    # Restored samples on the deploy's clock, so the appendix reads as one timeline.
    shift = {v.id: (v.starts_at - at0).total_seconds() for v in detail.rollback_verifications}
    out = []
    for s in [*sorted(detail.samples, key=lambda s: (s.k, s.check_name)), *detail.rollback_samples]:
        values = s.measurement.get("values") if isinstance(s.measurement, dict) else None
        counts = ""
        if isinstance(values, dict):
            counts = ", ".join(f"{k} {v:g}" for k, v in values.items() if isinstance(v, int | float))
        out.append(
            {
                "of": "restored" if s.verification_id in shift else "deploy",
                "check": s.check_name,
                "k": str(s.k),
                "t": f"+{secs(s.t + shift.get(s.verification_id, 0.0))}",
                "at": _utc(s.taken_at),
                "outcome": "warm-up" if s.warmup else s.outcome,
                "observed": "n/a" if s.observed is None else f"{s.observed:g}",
                "counts": counts,
                "reason": s.reason,
            }
        )
    return out


def _dashboard_url(report: ReportInput) -> str:
    path = f"/deployments/{report.detail.deployment.id}"
    return f"{report.base_url.rstrip('/')}{path}" if report.base_url else path


def _context(report: ReportInput, stem: str) -> dict[str, Any]:
    detail = report.detail
    dep, ver = detail.deployment, detail.verification
    prev = report.previous_stable
    status = ver.state.replace("_", " ")
    checks = [
        {
            "name": ev.name,
            "failed": ev.failed,
            "threshold": ev.threshold_text,
            "baseline": ev.baseline_text,
            "observed": ev.observed_text,
            "counts": ev.counts_text,
            "reason": ev.reason,
            "chart": f"{stem}-{safe_name(ev.name)}.svg",
        }
        for ev in evidence(report)
    ]
    restored = {v.id: v for v in detail.rollback_verifications}
    rollbacks = []
    for r in detail.rollbacks:
        rv = restored.get(r.verification_id or "")
        reason = r.reason + (f" Restored version verification: {rv.state} ({rv.reason})." if rv else "")
        rollbacks.append(
            {
                "state": r.state,
                "trigger": r.trigger,
                "target": r.target,
                "from_version": r.from_version,
                "to_version": r.to_version,
                "attempts": r.attempts,
                "requested_at": _utc(r.requested_at),
                "finished_at": _utc(r.finished_at) if r.finished_at else None,
                "reason": reason,
                "output": redact(r.output),
            }
        )
    action = ver.action or (report.policy.on_inconclusive if ver.verdict == "inconclusive" else "")
    no_rollback = {"alert": "the policy says alert", "none": "dry run: the policy says none"}.get(
        action, f"verdict {ver.verdict or 'pending'}"
    )
    return {
        "title": f"{dep.service} {dep.version} in {dep.environment}: {status}",
        "status": status.upper(),
        "verdict": ver.verdict or "pending",
        "decided": f"{secs(ver.decided_after_s)} after deploy"
        if ver.decided_after_s is not None
        else "not yet",
        "now": _utc(report.now),
        "summary": summary_sentence(report),
        "deployment": dep,
        "deployed_at": _utc(dep.deployed_at),
        "previous_stable": f"{prev.shown} (`{prev.artifact}`)"
        if prev
        else (dep.previous_version or "unknown"),
        "timeline": timeline(report),
        "impact": impact_lines(report),
        "queries": _queries(report),
        "samples": _appendix(report),
        "dashboard_url": _dashboard_url(report),
        "checks": checks,
        "rollbacks": rollbacks,
        "no_rollback_reason": no_rollback,
        "links": _links(report),
    }


def render_markdown(*, report: ReportInput, stem: str, template: Path | None = None) -> str:
    path = template or BUILTIN
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path.parent)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML: the HTML view renders it with raw HTML switched off
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    env.filters["fence"] = _fence
    return env.get_template(path.name).render(**_context(report, stem))


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(*, report: ReportInput, reports_dir: Path, template: Path | None = None) -> Path:
    """Writes (or rewrites) the Markdown and its charts; returns the Markdown's path."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(report)
    dep = report.detail.deployment
    for ev in evidence(report):
        title = f"{ev.name} ({ev.type}) after {dep.service} {dep.version} reached {dep.environment}"
        _atomic_write(
            reports_dir / f"{stem}-{safe_name(ev.name)}.svg", render_chart(ev, title=title).encode()
        )
    rendered = render_markdown(report=report, stem=stem, template=template)
    if MARKER not in rendered:  # an operator's template without the marker still gets the team's part
        rendered = rendered.rstrip("\n") + f"\n\n{MARKER}\n"
    head, _, blanks = rendered.partition(MARKER)
    # Generated text is redacted again: the rollback output came from a target's stdout and stderr.
    generated = (redact(head) + MARKER).encode()
    path = reports_dir / f"{stem}.md"
    old = path.read_bytes() if path.exists() else None
    if old is None:
        data = generated + blanks.encode()
    elif MARKER.encode() in old:
        data = generated + old.split(MARKER.encode(), 1)[1]
    else:  # someone deleted the marker: keep all of their file below a new one rather than lose a word
        data = generated + b"\n\n" + old
    _atomic_write(path, data)
    return path
