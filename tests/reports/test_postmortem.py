"""Golden-file tests of the post-mortem Markdown in its four endings, and in-place updates.

After an intended change, `UPDATE_GOLDEN=1 pytest tests/reports` rewrites tests/reports/golden/.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import KNOWN_SECRET
from tests.reports import builders
from watchdog.redact import REDACTOR
from watchdog.reports.model import ReportInput
from watchdog.reports.postmortem import MARKER, report_path, write_report

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def _secret_registered() -> Iterator[None]:
    # At start-up the daemon registers every resolved secret; the rollback output in builders holds one.
    REDACTOR.add(KNOWN_SECRET)
    yield


@pytest.mark.parametrize("case", sorted(builders.CASES))
def test_golden_markdown(case: str, tmp_path: Path) -> None:
    path = write_report(report=builders.CASES[case](), reports_dir=tmp_path)
    assert path.name == "2026-11-01-checkout-production-2.4.1.md"
    got = path.read_text(encoding="utf-8")
    golden = GOLDEN / f"{case}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8"), f"differs from {golden}; UPDATE_GOLDEN=1 regenerates"
    for check in ("healthz", "errors", "p99", "crash-free"):
        chart = f"2026-11-01-checkout-production-2.4.1-{check}.svg"
        assert (tmp_path / chart).is_file()
        assert f"]({chart})" in got


def test_rollback_output_is_redacted(tmp_path: Path) -> None:
    for make in builders.CASES.values():
        text = write_report(report=make(), reports_dir=tmp_path / make.__name__).read_text()
        assert KNOWN_SECRET not in text
    text = (tmp_path / "rollback_failed" / "2026-11-01-checkout-production-2.4.1.md").read_text()
    assert "pulling registry.example/checkout@sha256:1111 with ***" in text


def test_human_edit_below_marker_survives_two_updates(tmp_path: Path) -> None:
    first = write_report(report=builders.failed_alert(), reports_dir=tmp_path)
    text = first.read_bytes()
    head, tail = text.split(MARKER.encode(), 1)
    # A person fills a blank, with characters a careless rewrite would mangle (CRLF, no final newline).
    edited_tail = tail.replace(
        b"_What actually broke, and why the change caused it._", "Bad cache key \u2014 see #42\r\n".encode()
    )
    edited_tail += b"\n| fix cache key | @ana | 2026-11-08 | OPS-1 |"
    first.write_bytes(head + MARKER.encode() + edited_tail)

    later = builders.rollback_failed()
    second = write_report(report=later, reports_dir=tmp_path)
    third = write_report(report=replace(later, now=builders.at(900)), reports_dir=tmp_path)
    assert second == third == first
    final = third.read_bytes()
    assert final.split(MARKER.encode(), 1)[1] == edited_tail
    assert b"rollback failed" in final.split(MARKER.encode(), 1)[0]
    assert b"2026-11-01 12:15:00 UTC" in final
    assert not list(tmp_path.glob(".*.tmp")), "temporary files are renamed or removed"


def test_file_without_marker_is_kept_whole(tmp_path: Path) -> None:
    path = report_path(report=builders.failed_alert(), reports_dir=tmp_path)
    path.write_text("notes somebody wrote by hand\n")
    write_report(report=builders.failed_alert(), reports_dir=tmp_path)
    assert path.read_text().endswith(MARKER + "\n\nnotes somebody wrote by hand\n")


def test_version_is_sanitised_for_file_names(tmp_path: Path) -> None:
    base = builders.failed_alert()
    dep = replace(base.detail.deployment, version="../2.4.1+build/7 rc")
    report = replace(base, detail=replace(base.detail, deployment=dep))
    path = write_report(report=report, reports_dir=tmp_path)
    assert path.parent == tmp_path
    assert path.name == "2026-11-01-checkout-production-2.4.1-build-7-rc.md"
    assert (tmp_path / "2026-11-01-checkout-production-2.4.1-build-7-rc-errors.svg").is_file()


def test_operator_template(tmp_path: Path) -> None:
    template = tmp_path / "mine.md.j2"
    template.write_text(
        "# {{ title }}\n\n{{ summary }}\n\n{% for c in checks %}- {{ c.name }}: {{ c.reason }}\n{% endfor %}"
    )
    path = write_report(report=builders.failed_rolled_back(), reports_dir=tmp_path / "out", template=template)
    text = path.read_text()
    assert text.startswith("# checkout 2.4.1 in production: rolled back\n")
    assert "- errors: error rate 6.1% > limit 2.0%" in text
    assert text.endswith(MARKER + "\n")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            builders.refused,
            "; automatic rollback refused: rollbacks are frozen for checkout/production: release freeze.",
        ),
        (builders.failed_rolled_back, "; rolled back to 2.4.0 in 38 s."),
    ],
)
def test_summary_variants(make: Callable[[], ReportInput], expected: str) -> None:
    from watchdog.reports.summary import summary_sentence

    sentence = summary_sentence(make())
    assert sentence.startswith(
        "error rate rose from 0.4% to 6.1% (limit 2.0%) 90 s after checkout 2.4.1 reached production"
    )
    assert sentence.endswith(expected)
