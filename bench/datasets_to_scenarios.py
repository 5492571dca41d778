"""Builds the real-data scenarios (tests/scenarios/real-*.yaml) from the shared NAB and cloud-monitoring data.

Each point of a series becomes one 30 s sample (time rescaled); thresholds come from the baseline's noise.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEP = 30  # seconds per rescaled point
BASE_POINTS = 60  # 30 minutes of baseline at 30 s
POST_POINTS = 20  # the 10 minute window


@dataclass(frozen=True)
class Spec:
    name: str
    file: str  # relative to the datasets directory
    kind: str  # latency (higher is worse) | metric-high (spikes are bad) | metric-low (drops are bad)
    where: str  # "onset:<time>" (inside a labelled anomaly) or "healthy" (middle of the longest clean span)
    expect: str
    what: str  # what the series is, for the description


SPECS = [
    # incidents: the onset is the first point of a labelled anomaly where the series leaves its usual range
    Spec(
        "real-nab-rds-cpu-incident",
        "nab/data/realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv",
        "metric-high",
        "onset:2014-02-25T07:15:00",
        "failed",
        "RDS CPU utilisation, labelled anomaly (NAB)",
    ),
    Spec(
        "real-nab-rds-cpu-incident-2",
        "nab/data/realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv",
        "metric-high",
        "onset:2014-04-18T23:27:00",
        "failed",
        "RDS CPU utilisation, labelled anomaly (NAB)",
    ),
    Spec(
        "real-nab-ec2-cpu-incident",
        "nab/data/realAWSCloudwatch/ec2_cpu_utilization_ac20cd.csv",
        "metric-high",
        "onset:2014-04-15T00:49:00",
        "failed",
        "EC2 CPU utilisation pinned at 99% (NAB)",
    ),
    Spec(
        "real-cm-dependency-latency-incident",
        "cloud-monitoring/data/middle-tier-api-dependency-latency/outbound-08.csv",
        "latency",
        "onset:2018-07-12T02:00:00",
        "failed",
        "middle-tier API dependency latency, labelled anomaly (Microsoft cloud monitoring)",
    ),
    # healthy stretches: the middle of the longest span with no labelled anomaly nearby
    Spec(
        "real-nab-ec2-latency-healthy",
        "nab/data/realKnownCause/ec2_request_latency_system_failure.csv",
        "latency",
        "healthy",
        "passed",
        "EC2 request latency far from any labelled failure (NAB realKnownCause)",
    ),
    Spec(
        "real-nab-elb-requests-healthy",
        "nab/data/realAWSCloudwatch/elb_request_count_8c0756.csv",
        "metric-high",
        "healthy",
        "passed",
        "ELB request count on an ordinary stretch (NAB realAWSCloudwatch)",
    ),
    Spec(
        "real-nab-cpu-asg-healthy",
        "nab/data/realKnownCause/cpu_utilization_asg_misconfiguration.csv",
        "metric-high",
        "healthy",
        "passed",
        "CPU of an auto-scaling group before its misconfiguration (NAB)",
    ),
    Spec(
        "real-cm-dependency-latency-healthy",
        "cloud-monitoring/data/middle-tier-api-dependency-latency/outbound-03.csv",
        "latency",
        "healthy",
        "passed",
        "middle-tier API dependency latency away from its anomalies (cloud monitoring)",
    ),
    Spec(
        "real-cm-purchase-rate-healthy",
        "cloud-monitoring/data/consumer-purchase-rate/purchase-01.csv",
        "metric-low",
        "healthy",
        "passed",
        "consumer purchase rate without anomalies, hourly (cloud monitoring)",
    ),
]


def read_series(path: Path) -> tuple[list[datetime], list[float], list[bool]]:
    times, values, labels = [], [], []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            stamp = row.get("timestamp") or row.get("TimeStamp") or ""
            times.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")).replace(tzinfo=None))
            values.append(float(row.get("value") or row.get("Value") or "nan"))
            labels.append((row.get("Label") or "0").strip() == "1")
    return times, values, labels


def anomaly_starts(
    spec: Spec, root: Path, times: list[datetime], labels: list[bool]
) -> list[tuple[int, int]]:
    """(first, last) index of each labelled anomaly: NAB windows (centred on the anomaly) or Label runs."""
    if spec.file.startswith("nab/"):
        windows = json.loads((root / "nab/labels/combined_windows.json").read_text())
        key = spec.file.removeprefix("nab/data/")
        out = []
        for start, end in windows[key]:
            s, e = datetime.fromisoformat(start), datetime.fromisoformat(end)
            out.append((_index(times, s), _index(times, e)))
        return out
    runs, i = [], 0
    while i < len(labels):
        if labels[i]:
            j = i
            while j + 1 < len(labels) and labels[j + 1]:
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    return runs


def _index(times: list[datetime], when: datetime) -> int:
    return min(range(len(times)), key=lambda i: abs((times[i] - when).total_seconds()))


def deploy_index(spec: Spec, times: list[datetime], values: list[float], spans: list[tuple[int, int]]) -> int:
    if spec.where.startswith("onset:"):
        onset = _index(times, datetime.fromisoformat(spec.where.removeprefix("onset:")))
        if not any(a <= onset <= b for a, b in spans):
            raise SystemExit(f"{spec.name}: {spec.where} is not inside a labelled anomaly of {spec.file}")
        return onset - 5  # the anomaly lands at the 5th sample, just after the 2-sample warm-up
    # healthy: the middle of the longest stretch with no anomaly window (padded by a window's length)
    pad = POST_POINTS
    blocked = sorted((max(0, a - pad), b + pad) for a, b in spans)
    edges, cursor = [], 0
    for a, b in blocked:
        edges.append((cursor, a))
        cursor = max(cursor, b)
    edges.append((cursor, len(values)))
    lo, hi = max(edges, key=lambda ab: ab[1] - ab[0])
    return max(BASE_POINTS, min((lo + hi) // 2, len(values) - POST_POINTS - 1))


def check_for(spec: Spec, base: list[float]) -> dict[str, object]:
    """Thresholds a careful SRE would pick from 30 minutes of baseline: its own spread sets the margins."""
    q = statistics.quantiles(base, n=20)  # q[18] is the 95th percentile
    med, mean, sd = statistics.median(base), statistics.fmean(base), statistics.pstdev(base)
    if spec.kind == "latency":
        ratio = round(max(1.3, 1.2 * q[18] / med), 2) if med > 0 else 1.3
        return {
            "name": "latency",
            "type": "latency",
            "baseline": {"max_ratio": ratio},
            "min_effect": 0.2,
            "confidence": 0.99,
        }
    if spec.kind == "metric-high":
        ratio = round(max(1.3, 1.2 * q[18] / mean), 2) if mean > 0 else 1.3
        return {
            "name": "value",
            "type": "metric",
            "baseline": {"max_ratio": ratio, "max_increase": round(4 * sd, 3)},
        }
    return {"name": "value", "type": "metric", "min": round(0.5 * min(base), 3)}


def build(spec: Spec, root: Path) -> str:
    times, values, labels = read_series(root / spec.file)
    spans = anomaly_starts(spec, root, times, labels)
    d = deploy_index(spec, times, values, spans)
    base = [v for v in values[d - BASE_POINTS : d] if math.isfinite(v)]
    check = check_for(spec, base)
    points = [
        [(i - d) * STEP, None if not math.isfinite(values[i]) else round(values[i], 4)]
        for i in range(d - BASE_POINTS, min(d + POST_POINTS + 1, len(values)))
    ]
    real_step = int((times[1] - times[0]).total_seconds())
    role = "value"
    lines = [
        f"# Generated by bench/datasets_to_scenarios.py from {spec.file}; do not edit by hand.",
        f"name: {spec.name}",
        "description: >-",
        f"  {spec.what}. Time is rescaled: each {real_step // 60}-minute point of the series stands for one",
        f"  30-second sample. Deploy at the point of {times[d].isoformat()} ({spec.where});",
        "  thresholds derived from the 60 preceding points.",
        "deploy_at: 2026-11-01T12:00:00Z",
        "policy:",
        "  verification: {duration: 10m, interval: 30s, warmup: 60s, failure_limit: 2, baseline_window: 30m}",
        f"  checks:\n    - {json.dumps(check)}",
        "data:",
        f"  {check['name']}:",
        f"    {role}: {json.dumps(points)}",
        f"expect: {spec.expect}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "scenarios")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from watchdog.simulate import simulate_file

    bad = 0
    for spec in SPECS:
        path = args.out / f"{spec.name}.yaml"
        path.write_text(build(spec, args.datasets))
        result = simulate_file(path)
        ok = result.verdict.value == spec.expect
        bad += not ok
        print(
            f"{'ok ' if ok else 'BAD'} {spec.name}: {result.verdict.value} (expect {spec.expect}) "
            f"after {result.decided_after_s:g}s; {'; '.join(result.reasons)}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
