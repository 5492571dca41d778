"""The finished post-mortem: impact from the counters, a folded timeline, charts through the rollback's
verification, the queries, the dashboard link and the per-sample appendix.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.reports import builders
from watchdog.reports.impact import estimate
from watchdog.reports.postmortem import render_markdown, write_report
from watchdog.reports.timeline import timeline


def test_impact_of_a_rolled_back_deploy_is_worked_from_the_counters() -> None:
    [impact] = estimate(builders.failed_rolled_back())
    # Samples at +30/+60/+90 s: 5 + 52 + 61 errors of 3 x 1,000 requests; the 38 s from the last sample to
    # the verified rollback (+128 s) at the last sample's 61 errors and 1,000 requests per 30 s.
    assert impact.window_s == 128 and impact.measured_s == 90 and not impact.ongoing
    assert abs(impact.errors - (118 + 61 * 38 / 30)) < 1e-9
    assert abs(impact.requests - (3000 + 1000 * 38 / 30)) < 1e-9
    assert impact.baseline_rate == 16 / 4000
    assert round(impact.extra_errors) == 178


def test_impact_of_a_failed_rollback_is_still_open() -> None:
    [impact] = estimate(builders.rollback_failed())
    assert impact.ongoing and impact.window_s == 300  # report.now is +300 s and nothing was restored
    text = render_markdown(report=builders.rollback_failed(), stem="x")
    assert "so far (not restored yet)" in text


def test_impact_without_counters_says_so() -> None:
    report = builders.failed_rolled_back()
    bare = replace(report.detail, samples=[replace(s, measurement={}) for s in report.detail.samples])
    text = render_markdown(report=replace(report, detail=bare), stem="x")
    assert "cannot estimate the impact" in text


def test_timeline_folds_start_up_states_into_one_row() -> None:
    rows = [r["text"] for r in timeline(builders.failed_rolled_back())]
    assert rows[1] == "verification started: event accepted (pending → warming → verifying)"
    assert not any("warming" in r and "started" not in r for r in rows)
    assert "first failing sample of errors: error rate 5.2% > limit 2.0%" in rows
    assert rows[-1] == "verification rolled back: 2.4.0 restored and verified"
    assert len(rows) == 8  # the three start-up states are one row, the first failing sample is new


def test_report_links_queries_and_appendix(tmp_path: Path) -> None:
    report = replace(builders.failed_rolled_back(), base_url="https://watchdog.example/")
    path = write_report(report=report, reports_dir=tmp_path)
    text = path.read_text()
    assert f"(https://watchdog.example/deployments/{builders.DEP_ID})" in text
    assert '`sum(increase(http_requests_total{job="checkout"}[30s]))`' in text
    assert (
        "| deploy | errors | 3 | +90 s | 2026-11-01 12:01:30 UTC | fail | 0.061 | errors 61, requests 1000 |"
        in text
    )
    # restored samples on the deploy's clock: the restored verification started at +98 s
    assert "| restored | healthz | 2 | +128 s |" in text
    svg = (tmp_path / f"{path.stem}-healthz.svg").read_text()
    assert 'id="restored"' in svg and 'id="rollback-marker"' in svg and "restored version" in svg
    errors_svg = (tmp_path / f"{path.stem}-errors.svg").read_text()
    assert 'id="restored"' not in errors_svg  # the restored version was verified by http checks only
