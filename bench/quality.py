"""Decision quality of the judging rules on a labelled corpus: sequential evidence vs the old rules vs static.

Prints per family and traffic level: false rollbacks, detection, inconclusive share and decision times for
the three arms, the long-window inflation table, and the targets; writes bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.quality_corpus import Case, at_the_edge, generated, long_windows  # noqa: E402
from bench.quality_datasets import dataset_cases  # noqa: E402
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


def visible(case: Case) -> bool:
    """Would one exact test on the whole judged window, looked at once at its end, see the regression?"""
    from scipy.stats import binom, ttest_1samp, ttest_ind

    check = case.doc["policy"]["checks"][0]
    roles = case.doc["data"][check["name"]]
    warm = case.doc["policy"]["verification"]["warmup"]
    alpha = 1.0 - float(check.get("confidence", 0.95))
    control = check.get("baseline", {}).get("compare_to") == "control"
    limits = check.get("baseline") or {}

    def split(role: str) -> tuple[list[float], list[float]]:
        pts = roles[role]
        return [v for t, v in pts if t < 0], [v for t, v in pts if t > warm]

    if check["type"] == "error_rate":
        if control:
            _, be = split("control_errors")
            _, br = split("control_requests")
        else:
            be, _ = split("errors")
            br, _ = split("requests")
        _, we = split("errors")
        _, wr = split("requests")
        x, n, e, b = sum(we), sum(wr), sum(be), sum(br)
        if "max_ratio" not in limits:
            return bool(binom.sf(x - 1, n, check.get("max", 0.02)) < alpha) if n > 0 else False
        rho = float(limits["max_ratio"])
        if n <= 0 or b <= 0 or x + e <= 0:
            return False
        theta = rho * n / (rho * n + b)
        return bool(binom.sf(x - 1, x + e, theta) < alpha)
    base, win = split("value")
    base = [v for v in base if v is not None]
    win = [v for v in win if v is not None]
    if len(win) < 2 or len(base) < 2:
        return False
    if check["type"] == "metric":
        if "baseline" not in check:  # an absolute min or max only: the rule itself is the whole test
            low, high = check.get("min", -math.inf), check.get("max", math.inf)
            bad = [not (low <= v <= high) for v in win]
            return any(a and b for a, b in itertools.pairwise(bad))
        mb = statistics.fmean(base)
        edge = max(
            (float(limits.get("max_ratio", 1.0)) - 1.0) * abs(mb), float(limits.get("max_increase", 0.0))
        )
        shifted = [v - edge for v in win]
        return bool(ttest_ind(shifted, base, equal_var=False, alternative="greater").pvalue < alpha)
    tol = math.log(max(float(limits.get("max_ratio", 1.0)), 1.0 + float(check.get("min_effect") or 0.0)))
    lw = [math.log(max(v, 1e-12)) - tol for v in win]
    if control:
        _, cw = split("control_value")
        diffs = [a - math.log(max(c, 1e-12)) for a, c in zip(lw, cw, strict=False)]
        return bool(ttest_1samp(diffs, 0.0, alternative="greater").pvalue < alpha)
    lb = [math.log(max(v, 1e-12)) for v in base]
    return bool(ttest_ind(lw, lb, equal_var=False, alternative="greater").pvalue < alpha)


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
        out.update(case.extra)
        rows.append(out)
    return rows


def edge_runs(runs: int) -> dict[str, Any]:
    """The guarantee's worst case measured with more runs than the corpus holds (a fresh seed)."""
    failed: dict[str, list[bool]] = defaultdict(list)
    for case in at_the_edge(runs=runs, seed=1011):
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
            vis = [r for r in rs if r["visible"]]
            cell["visible"] = len(vis)
            for arm in ARMS:
                cell[arm]["visible_caught"] = (
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
    worst = {f: rate([r for r in healthy if r["family"] == f]) for f in fair_families}
    hour10 = [
        r
        for r in rows
        if r["family"] == "long window" and r.get("duration") == 3600 and r.get("interval") == 10
    ]
    regress = [r for r in rows if r["label"] == "failed" and r["visible"]]
    times = {arm: [r[arm]["t"] for r in regress if r[arm]["verdict"] == "failed"] for arm in ARMS}
    canary = [
        r for r in rows if r["family"] == "canary errors x2 (control)" and float(r["level"].split()[0]) >= 20
    ]
    ramps = [r for r in rows if r["family"] == "shared ramp (control)"]
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
        "shared_ramp_false_rollbacks": {arm: rate(ramps, arm) for arm in ARMS},
        "canary_x2_at_20rps_or_more_caught": {arm: rate(canary, arm) for arm in ARMS},
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
        + " | visible caught (seq/legacy/static) |"
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
            " / ".join(_pct(c[a].get("visible_caught")) for a in ARMS) + f" of {c['visible']}"
            if c["label"] == "failed"
            else ""
        )
        lines.append(f"| {c['family']} | {c['level']} | {c['n']} | {c['label']} | {arms} | {vis} |")
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
            f"regressions a whole-window exact test sees ({t['visible_regressions']}) caught",
            t["visible_caught"],
        ),
        row("median decision on those, seconds after the deploy", t["median_decision_s_visible"], _s),
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
    args = parser.parse_args(argv)
    if args.readme:
        print(readme(json.loads(RESULTS.read_text())))
        return 0
    cases = [*generated(), *long_windows(), *at_the_edge(), *dataset_cases(args.datasets)]
    if args.quick:
        cases = cases[::5]
    started = time.perf_counter()
    rows = run(cases)
    elapsed = time.perf_counter() - started
    summary = summarise(rows)
    if args.edge_runs > 0 and not args.quick:
        summary["edge_runs"] = edge_runs(args.edge_runs)
    summary["corpus"] = {"scenarios": len(rows), "seconds": round(elapsed, 1), "arms": list(ARMS)}
    print(table(summary))
    print()
    print(json.dumps(summary["targets"], indent=2))
    print(f"\n{len(rows)} scenarios x {len(ARMS)} arms in {elapsed:.1f} s")
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
