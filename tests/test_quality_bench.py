"""bench/quality.py keeps working: a corpus of at least 1,000 labelled deploys, and all three arms run.

The numbers themselves are measured by the benchmark, never asserted here.
"""

from __future__ import annotations

from pathlib import Path

from scipy.stats import binom

from bench.quality import ARMS, edge_runs, run, summarise
from bench.quality_corpus import generated, long_windows
from bench.quality_datasets import dataset_cases
from bench.quality_reference import oracle, reference_at_the_edge, visible, visible_if_independent


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
    # errors over 10 min and 1 h, p99, the canary errors with their own noise (30%, 50%), the noisy canary p99
    assert len(more) == 6
    assert all(v["runs"] == 2 and 0.0 <= v["failed"] <= 1.0 for v in more.values())


def test_oracle_is_told_only_error_regressions() -> None:
    """The ceiling arm (the likelihood ratio at the true regression size) covers the generated error
    regressions only; a doubling at 1,000 req/s is far inside what it sees."""
    cases = [c for c in generated() if c.label == "failed"]
    big = next(c for c in cases if c.family == "canary errors x3 (control)" and c.level == "1000 req/s")
    assert oracle(big) is True
    p99 = next(c for c in cases if c.family.startswith("p99"))
    assert oracle(p99) is None


def test_reference_holds_its_level_at_the_edge() -> None:
    """The benchmark's reference for "could see", told the generator's noise, says "regression" at most 5%
    of the time exactly at the edge of tolerance (up to the sampling error of 200 runs: above the 99.9%
    point of 5% fails), on every edge row; the test that takes the samples as independent does not, except
    on the noisy canary p99, whose differences from its control are independent (the drift is shared)."""
    runs = 200
    said = reference_at_the_edge(runs, seed=2027)
    assert len(said) == 6
    bound = binom.ppf(0.999, runs, 0.05) / runs  # 9.5% at 200 runs
    for level, v in said.items():
        assert v["runs"] == runs
        assert v["visible"] <= bound, (level, v)
    over = {level for level, v in said.items() if v["visible_if_independent"] > bound}
    assert over == set(said) - {"canary p99 1.3x, own noise 30%, control, shared drift"}


def test_reference_is_the_exact_test_where_the_counts_are_binomial() -> None:
    """No shared wander and no own noise (the generated error regressions under `before`), a wander the
    control shares (the canary regressions), or noise not known (dataset windows): the reference is the
    conditional binomial, unchanged."""
    cases = [c for c in generated() if c.label == "failed" and c.family.startswith("errors x")][::7]
    assert cases and all(c.noise is not None and c.noise["sd"] == 0 for c in cases)
    canaries = [c for c in generated() if c.label == "failed" and c.family.startswith("canary errors")][::9]
    assert canaries and all(c.noise is not None and c.noise["sd"] > 0 for c in canaries)
    cases += canaries
    assert [visible(c) for c in cases] == [visible_if_independent(c) for c in cases]
    for c in cases[:3]:
        c.noise = None
    assert [visible(c) for c in cases[:3]] == [visible_if_independent(c) for c in cases[:3]]
