"""Benchmark of `watchdog simulate`: N generated scenarios (10 minute window at 30 s), parsed and judged.

Prints a table of scenarios/s and writes bench/results/simulate.json. Target: 1,000 scenarios in under 10 s.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from watchdog.simulate import simulate_file  # noqa: E402

POLICY = """\
policy:
  verification: {duration: 10m, interval: 30s, warmup: 60s, failure_limit: 2}
  checks:
    - {name: healthz, type: http}
    - {name: errors, type: error_rate, max: 0.02, baseline: {max_ratio: 1.5, max_increase: 0.003},
       min_requests: 100, confidence: 0.95}
    - {name: p99, type: latency, max: 2.0, baseline: {max_ratio: 1.3}, min_effect: 0.1, confidence: 0.95}
"""


def scenario(i: int, rng: random.Random) -> str:
    """A mix: healthy, error regressions, latency shifts, noisy spikes; 81 points per role."""
    kind = ("healthy", "errors", "latency", "noise")[i % 4]
    times = list(range(-1800, 0, 30)) + list(range(0, 601, 30))
    errors, requests, p99, up = [], [], [], []
    for t in times:
        req = rng.randint(800, 1200)
        rate = 0.004 + (0.02 if kind == "errors" and t >= 240 else 0.0)
        lat = rng.gauss(0.5, 0.03) * (1.5 if kind == "latency" and t >= 120 else 1.0)
        if kind == "noise" and rng.random() < 0.15:
            lat *= 1.6
        errors.append([t, max(0, round(rng.gauss(req * rate, (req * rate) ** 0.5)))])  # ~binomial
        requests.append([t, req])
        p99.append([t, round(lat, 4)])
        if t >= 0:
            up.append([t, 1])
    expect = {"healthy": "passed", "noise": "passed", "errors": "failed", "latency": "failed"}[kind]
    return (
        f"name: bench-{i}-{kind}\ndeploy_at: 2026-11-01T12:00:00Z\n{POLICY}data:\n"
        f"  healthz:\n    up: {json.dumps(up)}\n"
        f"  errors:\n    errors: {json.dumps(errors)}\n    requests: {json.dumps(requests)}\n"
        f"  p99:\n    value: {json.dumps(p99)}\nexpect: {expect}\n"
    )


def run(n: int, tmp: Path) -> dict[str, float]:
    rng = random.Random(n)
    paths = []
    for i in range(n):
        p = tmp / f"s{i:05d}.yaml"
        p.write_text(scenario(i, rng))
        paths.append(p)
    start = time.perf_counter()
    results = [simulate_file(p) for p in paths]
    elapsed = time.perf_counter() - start
    agree = sum(r.matches_expect for r in results)
    return {
        "scenarios": n,
        "seconds": round(elapsed, 3),
        "per_second": round(n / elapsed, 1),
        "agree_with_expect": agree,
    }


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        # A first small run loads scipy.stats (~0.4 s, once per process) outside the measured runs.
        for n in (20, 100, 1000):
            sub = Path(d) / f"n{n}"
            sub.mkdir()
            rows.append(run(n, sub))
    rows = rows[1:]
    print(f"{'scenarios':>10} {'seconds':>8} {'scenarios/s':>12} {'agree':>7}")
    for r in rows:
        print(f"{r['scenarios']:>10} {r['seconds']:>8} {r['per_second']:>12} {r['agree_with_expect']:>7}")
    target = rows[-1]["seconds"] < 10.0
    out = REPO / "bench" / "results" / "simulate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"runs": rows, "target": "1000 scenarios < 10 s", "met": target}, indent=2) + "\n"
    )
    print(f"target 1000 scenarios < 10 s: {'met' if target else 'MISSED'}; wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
