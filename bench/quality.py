"""Decision quality of the judging rules on a labelled corpus: sequential evidence vs the old rules vs static.

Prints per family and traffic level: false rollbacks, detection, inconclusive share and decision times for
the three arms, the long-window inflation table, and the targets; writes bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.quality_cases import Case  # noqa: E402
from bench.quality_corpus import at_the_edge, generated, long_windows  # noqa: E402
from bench.quality_datasets import dataset_cases  # noqa: E402
from bench.quality_reference import (  # noqa: E402
    oracle,
    reference_at_the_edge,
    visible,
    visible_if_independent,
)
from watchdog.scenario import parse_scenario  # noqa: E402
from watchdog.simulate import simulate  # noqa: E402

ARMS = ("sequential", "legacy", "static")
RESULTS = REPO / "bench" / "results" / "quality.json"


def static_doc(case: Case) -> dict[str, Any]:
    doc = dict(case.doc)
    doc["policy"] = {**doc["policy"], "checks": case.static["checks"]}
    doc["data"] = {
        name: {r: v for r, v in roles.items() if not r.startswith("control_")}
        for name, roles in doc["data"].items()
    }
    return doc


def run(cases: list[Case]) -> list[dict[str, Any]]:
    rows = []
    for case in cases:
        scn = parse_scenario(case.doc, path=case.doc["name"])
        static = parse_scenario(static_doc(case), path=case.doc["name"])
        out: dict[str, Any] = {
            "family": case.family,
            "level": case.level,
            "label": case.label,
            "fair": case.fair,
        }
        for arm, result in (
            ("sequential", simulate(scn)),
            ("legacy", simulate(scn, legacy=True)),
            ("static", simulate(static)),
        ):
            out[arm] = {"verdict": result.verdict.value, "t": result.decided_after_s}
        out["visible"] = visible(case) if case.label == "failed" else None
        out["visible_if_independent"] = visible_if_independent(case) if case.label == "failed" else None
        out["oracle"] = oracle(case)
        out.update(case.extra)
        rows.append(out)
    return rows


def edge_runs(runs: int, seed: int = 1011) -> dict[str, Any]:
    """The guarantee's worst case measured with more runs than the corpus holds (a fresh seed)."""
    failed: dict[str, list[bool]] = defaultdict(list)
    for case in at_the_edge(runs=runs, seed=seed):
        result = simulate(parse_scenario(case.doc, path=case.doc["name"]))
        failed[case.level].append(result.verdict.value == "failed")
    return {level: {"runs": len(v), "failed": sum(v) / len(v)} for level, v in failed.items()}


def _q(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(q * len(s)) - 1)]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per (family, level): n, label, and per arm the failed and inconclusive shares and decision times."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["family"], r["level"])].append(r)
    cells = []
    for (family, level), rs in groups.items():
        cell: dict[str, Any] = {
            "family": family,
            "level": level,
            "n": len(rs),
            "label": rs[0]["label"],
            "fair": rs[0]["fair"],
        }
        for arm in ARMS:
            failed = [r[arm]["t"] for r in rs if r[arm]["verdict"] == "failed"]
            cell[arm] = {
                "failed": len(failed) / len(rs),
                "inconclusive": sum(r[arm]["verdict"] == "inconclusive" for r in rs) / len(rs),
                "median_s": _q(failed, 0.5),
                "p90_s": _q(failed, 0.9),
            }
        if rs[0]["label"] == "failed":
            for ref in ("visible", "visible_if_independent"):
                vis = [r for r in rs if r[ref]]
                cell[ref] = len(vis)
                for arm in ARMS:
                    cell[arm][f"{ref}_caught"] = (
                        sum(r[arm]["verdict"] == "failed" for r in vis) / len(vis) if vis else None
                    )
        cells.append(cell)
    return {"cells": cells, "targets": targets(rows)}


def targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def rate(rs: list[dict[str, Any]], arm: str = "sequential") -> float | None:
        return sum(r[arm]["verdict"] == "failed" for r in rs) / len(rs) if rs else None

    edge = [r for r in rows if r["family"] == "at the tolerance edge"]
    healthy = [
        r
        for r in rows
        if r["label"] == "passed" and r["family"] not in {"long window", "at the tolerance edge"}
    ]
    fair_families = sorted({r["family"] for r in healthy if r["fair"]})
    # never None: every fair family is named by some row of `healthy`
    worst = {f: cast(float, rate([r for r in healthy if r["family"] == f])) for f in fair_families}
    hour10 = [
        r
        for r in rows
        if r["family"] == "long window" and r.get("duration") == 3600 and r.get("interval") == 10
    ]
    regress = [r for r in rows if r["label"] == "failed" and r["visible"]]
    times = {arm: [r[arm]["t"] for r in regress if r[arm]["verdict"] == "failed"] for arm in ARMS}
    indep = [r for r in rows if r["label"] == "failed" and r["visible_if_independent"]]
    indep_times = {arm: [r[arm]["t"] for r in indep if r[arm]["verdict"] == "failed"] for arm in ARMS}
    canary = [
        r for r in rows if r["family"] == "canary errors x2 (control)" and float(r["level"].split()[0]) >= 20
    ]
    ramps = [r for r in rows if r["family"] == "shared ramp (control)"]
    told = [r for r in regress if r.get("oracle") is not None]
    # the same deploys for both arms: a median over what each arm caught rises as an arm catches more of
    # the slow, barely visible ones, which is no deploy decided later
    both = [
        r for r in regress if r["sequential"]["verdict"] == "failed" and r["legacy"]["verdict"] == "failed"
    ]
    return {
        "healthy_false_rollbacks_by_fair_family": worst,
        "worst_fair_family": max(worst.values()) if worst else None,
        "one_hour_at_10s_false_rollbacks": {arm: rate(hour10, arm) for arm in ARMS},
        "at_the_tolerance_edge_failed_promised_at_most_5pct": {
            level: rate([r for r in edge if r["level"] == level])
            for level in sorted({r["level"] for r in edge})
        },
        "visible_regressions": len(regress),
        "visible_caught": {arm: rate(regress, arm) for arm in ARMS},
        "median_decision_s_visible": {arm: (statistics.median(t) if t else None) for arm, t in times.items()},
        # the first reference, which takes the samples as independent (not at its level on every family)
        "visible_if_independent_regressions": len(indep),
        "visible_if_independent_caught": {arm: rate(indep, arm) for arm in ARMS},
        "median_decision_s_visible_if_independent": {
            arm: (statistics.median(t) if t else None) for arm, t in indep_times.items()
        },
        "median_decision_s_caught_by_sequential_and_legacy": {
            arm: statistics.median(r[arm]["t"] for r in both) if both else None
            for arm in ("sequential", "legacy")
        },
        "shared_ramp_false_rollbacks": {arm: rate(ramps, arm) for arm in ARMS},
        "canary_x2_at_20rps_or_more_caught": {arm: rate(canary, arm) for arm in ARMS},
        "canary_x2_at_20rps_or_more_visible": sum(bool(r["visible"]) for r in canary) / len(canary)
        if canary
        else None,
        "canary_x2_at_20rps_or_more_oracle": sum(bool(r.get("oracle")) for r in canary) / len(canary)
        if canary
        else None,
        "visible_error_regressions": len(told),
        "visible_error_regressions_caught": rate(told),
        "visible_error_regressions_oracle": sum(bool(r["oracle"]) for r in told) / len(told)
        if told
        else None,
        "healthy_all_families_false_rollbacks": {arm: rate(healthy, arm) for arm in ARMS},
        "healthy_fair_families_false_rollbacks": {
            arm: rate([r for r in healthy if r["fair"]], arm) for arm in ARMS
        },
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def table(summary: dict[str, Any]) -> str:
    head = (
        "| family | level | n | label | "
        + " | ".join(f"{a} fail / inc / med s / p90 s" for a in ARMS)
        + " | visible caught (seq/legacy/static), told the noise; taken as independent |"
    )
    lines = [head, "|" + "---|" * (5 + len(ARMS))]
    for c in summary["cells"]:
        arms = " | ".join(
            " / ".join(
                (_pct(c[a]["failed"]), _pct(c[a]["inconclusive"]), _s(c[a]["median_s"]), _s(c[a]["p90_s"]))
            )
            for a in ARMS
        )
        vis = (
            "; ".join(
                " / ".join(_pct(c[a].get(f"{ref}_caught")) for a in ARMS) + f" of {c[ref]}"
                for ref in ("visible", "visible_if_independent")
            )
            if c["label"] == "failed"
            else ""
        )
        lines.append(f"| {c['family']} | {c['level']} | {c['n']} | {c['label']} | {arms} | {vis} |")
    return "\n".join(lines)


def by_family(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per regression family, for each reference: how many it sees, how many of those the sequential rules
    catch, and the median decision on the caught ones."""
    out: dict[str, Any] = {}
    for family in sorted({r["family"] for r in rows if r["label"] == "failed"}):
        rs = [r for r in rows if r["family"] == family]
        out[family] = {"n": len(rs)}
        for ref in ("visible", "visible_if_independent"):
            vis = [r for r in rs if r[ref]]
            caught = [r["sequential"]["t"] for r in vis if r["sequential"]["verdict"] == "failed"]
            out[family][ref] = {
                "seen": len(vis),
                "caught": len(caught),
                "median_s": statistics.median(caught) if caught else None,
            }
    return out


def family_table(families: dict[str, Any]) -> str:
    lines = [
        "| regression family | n | told the noise: seen / caught / median s "
        "| taken as independent: seen / caught / median s |",
        "| --- | --- | --- | --- |",
    ]
    for family, f in families.items():
        cols = " | ".join(
            f"{f[ref]['seen']} / {f[ref]['caught']} / {_s(f[ref]['median_s'])}"
            for ref in ("visible", "visible_if_independent")
        )
        lines.append(f"| {family} | {f['n']} | {cols} |")
    return "\n".join(lines)


def readme(summary: dict[str, Any]) -> str:
    """The README's table, from the results file."""
    t = summary["targets"]

    def row(what: str, values: dict[str, float | None], fmt: Any = _pct) -> str:
        return f"| {what} | " + " | ".join(fmt(values[a]) for a in ARMS) + " |"

    lines = [
        "| on the corpus | sequential (these rules) | per-sample (previous rules) | static thresholds |",
        "| --- | --- | --- | --- |",
        row(
            "healthy deploys rolled back, families with a fair comparison",
            t["healthy_fair_families_false_rollbacks"],
        ),
        row(
            "healthy deploys rolled back, all families (ramps, drifts, blips under `before`)",
            t["healthy_all_families_false_rollbacks"],
        ),
        row("healthy 1-hour windows at 10 s rolled back", t["one_hour_at_10s_false_rollbacks"]),
        row("healthy shared ramps rolled back (`compare_to: control`)", t["shared_ramp_false_rollbacks"]),
        row(
            f"regressions a whole-window test told the noise sees ({t['visible_regressions']}) caught",
            t["visible_caught"],
        ),
        row("median decision on those, seconds after the deploy", t["median_decision_s_visible"], _s),
        row(
            "regressions a whole-window test taking samples as independent sees "
            f"({t['visible_if_independent_regressions']}) caught",
            t["visible_if_independent_caught"],
        ),
        row(
            "median decision on those, seconds after the deploy",
            t["median_decision_s_visible_if_independent"],
            _s,
        ),
        row(
            "canary x2 errors at >= 20 req/s caught (`compare_to: control`)",
            t["canary_x2_at_20rps_or_more_caught"],
        ),
    ]
    more = summary.get("edge_runs", {})
    runs = next(iter(more.values()))["runs"] if more else 0
    lines.append("")
    lines.append(
        "| deploys exactly at the edge of tolerance (promised: at most 5% fail) "
        + "| failed, sequential (60 runs) |"
        + (f" failed, {runs} more runs |" if more else "")
    )
    lines.append("| --- | --- |" + (" --- |" if more else ""))
    lines += [
        f"| {k} | {_pct(v)} |" + (f" {_pct(more[k]['failed'])} |" if k in more else "")
        for k, v in t["at_the_tolerance_edge_failed_promised_at_most_5pct"].items()
    ]
    ref = summary.get("reference_at_the_edge", {})
    if ref:
        n = next(iter(ref.values()))["runs"]
        lines.append("")
        lines.append(
            f"| the references exactly at the edge ({n} runs; a test at its level: at most 5%) "
            "| told the noise | taken as independent |"
        )
        lines.append("| --- | --- | --- |")
        lines += [
            f"| {k} | {_pct(v['visible'])} | {_pct(v['visible_if_independent'])} |" for k, v in ref.items()
        ]
    worst = t["healthy_false_rollbacks_by_fair_family"]
    lines.append("")
    lines.append("| family (healthy, fair comparison) | rolled back, sequential |")
    lines.append("| --- | --- |")
    lines += [f"| {f} | {_pct(v)} |" for f, v in sorted(worst.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--quick", action="store_true", help="every 5th case only (a smoke run)")
    parser.add_argument("--readme", action="store_true", help="print the README table from the last results")
    parser.add_argument(
        "--edge-runs",
        type=int,
        default=300,
        help="fresh runs per edge-of-tolerance row, sequential arm only (60 is a noisy estimate)",
    )
    parser.add_argument(
        "--reference-runs",
        type=int,
        default=None,
        help="runs per edge row for the references' own level (default: --edge-runs; 300 runs put a test "
        "exactly at 5% anywhere in 3-7%)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="draw the generated corpus, long windows and edge rows from fresh seeds (results not written)",
    )
    args = parser.parse_args(argv)
    if args.readme:
        print(readme(json.loads(RESULTS.read_text())))
        return 0
    if args.seed is None:
        cases = [*generated(), *long_windows(), *at_the_edge(), *dataset_cases(args.datasets)]
    else:  # a check that no constant fits the stored seeds only: same families, fresh draws
        s = args.seed
        cases = [*generated(s), *long_windows(s + 1), *at_the_edge(seed=s + 2), *dataset_cases(args.datasets)]
    if args.quick:
        cases = cases[::5]
    started = time.perf_counter()
    rows = run(cases)
    elapsed = time.perf_counter() - started
    summary = summarise(rows)
    summary["by_family"] = by_family(rows)
    if args.edge_runs > 0 and not args.quick:
        edge_seed = 1011 if args.seed is None else args.seed + 3
        summary["edge_runs"] = edge_runs(args.edge_runs, edge_seed)
        ref_runs = args.edge_runs if args.reference_runs is None else args.reference_runs
        summary["reference_at_the_edge"] = reference_at_the_edge(ref_runs, edge_seed)
    summary["corpus"] = {"scenarios": len(rows), "seconds": round(elapsed, 1), "arms": list(ARMS)}
    print(table(summary))
    print()
    print(json.dumps(summary["targets"], indent=2))
    print()
    print(family_table(summary["by_family"]))
    if "edge_runs" in summary:
        print(json.dumps(summary["edge_runs"], indent=2))
        print(json.dumps(summary["reference_at_the_edge"], indent=2))
    print(f"\n{len(rows)} scenarios x {len(ARMS)} arms in {elapsed:.1f} s")
    if not args.quick and args.seed is None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
