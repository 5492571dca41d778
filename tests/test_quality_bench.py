"""bench/quality.py keeps working: a corpus of at least 1,000 labelled deploys, and all three arms run.

The numbers themselves are measured by the benchmark, never asserted here.
"""

from __future__ import annotations

from pathlib import Path

from bench.quality import ARMS, edge_runs, run, summarise
from bench.quality_corpus import generated, long_windows
from bench.quality_datasets import dataset_cases


def test_corpus_is_big_and_labelled() -> None:
    cases = [*generated(), *long_windows()]
    assert len(cases) >= 1000
    families = {c.family for c in cases}
    for wanted in (
        "healthy errors, overdispersed",
        "traffic ramp (before)",
        "shared ramp (control)",
        "canary errors x2 (control)",
        "long window",
        "healthy p99, autocorrelated",
    ):
        assert wanted in families
    assert {c.label for c in cases} == {"passed", "failed"}


def test_three_arms_on_a_slice() -> None:
    cases = [*generated()][::97]
    rows = run(cases)
    assert len(rows) == len(cases)
    assert all(r[arm]["verdict"] in {"passed", "failed", "inconclusive"} for r in rows for arm in ARMS)
    summary = summarise(rows)
    assert summary["cells"] and "visible_caught" in summary["targets"]


def test_missing_datasets_give_no_cases(tmp_path: Path) -> None:
    assert list(dataset_cases(tmp_path / "absent")) == []


def test_edge_runs_measure_every_edge_row_with_fresh_runs() -> None:
    more = edge_runs(2)
    assert len(more) == 3
    assert all(v["runs"] == 2 and 0.0 <= v["failed"] <= 1.0 for v in more.values())
