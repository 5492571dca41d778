"""Benchmark of `watchdog backtest`: 1,000 past deploys x 3 checks against a real, backfilled Prometheus.

Prints a table and writes bench/results/backtest.json. Target: the whole backtest in under 60 s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.backtest.synthetic import DAY, History, plan  # noqa: E402
from tests.fakes.prometheus_server import backfilled_prometheus  # noqa: E402
from watchdog.cli import main  # noqa: E402

TARGET_S = 60.0
POLICY = """\
service: shop
defaults:
  verification: {duration: 10m, interval: 30s, warmup: 60s, failure_limit: 2, baseline_window: 30m}
  on_failure: alert
environments:
  production:
    checks:
      - name: errors
        type: error_rate
        source: prom
        errors: sum(increase(http_requests_total{job="shop",code=~"5.."}[30s]))
        requests: sum(increase(http_requests_total{job="shop"}[30s]))
        max: 0.05
        baseline: {max_ratio: 2, max_increase: 0.01}
        min_requests: 100
        confidence: 0.99
      - name: p99
        type: latency
        source: prom
        query: max(shop_latency_p99_seconds{job="shop"})
        max: 1.0
        baseline: {max_ratio: 1.5}
      - name: traffic
        type: metric
        source: prom
        query: sum(rate(http_requests_total{job="shop"}[1m]))
        min: 0.5
"""


def run(deploys: int, tmp: Path) -> dict[str, float]:
    end = int(time.time()) // 30 * 30
    history = History(start=end - 23 * DAY, end=end - 3 * 3600, deploys=plan(end=end))
    t0 = time.perf_counter()
    history.openmetrics(tmp / "history.om")
    generated = time.perf_counter() - t0
    # `deploys` deploys spread evenly over the three weeks of history (windows may overlap: replay only).
    first, last = history.start + DAY, history.end - 3600
    step = (last - first) // deploys // 30 * 30
    lines = [
        json.dumps(
            {"version": f"2.{i}.0", "deployed_at": datetime.fromtimestamp(first + i * step, UTC).isoformat()}
        )
        for i in range(deploys)
    ]
    (tmp / "deploys.jsonl").write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    with backfilled_prometheus(openmetrics=tmp / "history.om", workdir=tmp / "prom") as prom:
        started = time.perf_counter() - t0
        config = tmp / "config"
        (config / "services").mkdir(parents=True)
        (config / "watchdog.yaml").write_text(f"sources:\n  prom: {{type: prometheus, url: '{prom.url}'}}\n")
        (config / "services" / "shop.yaml").write_text(POLICY)
        os.environ["WATCHDOG_DATA_DIR"] = str(tmp / "data")
        argv = ["backtest", "--service", "shop", "--environment", "production", "--config", str(config),
                "--deploys", str(tmp / "deploys.jsonl"), "--json"]  # fmt: skip
        out = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out):
            code = main(argv)
        seconds = time.perf_counter() - t0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    summary = rows[-1]["summary"]
    assert code == 0 and summary["deploys"] == deploys, summary
    return {
        "deploys": deploys,
        "checks": 3,
        "range_queries": deploys * 4,
        "seconds": round(seconds, 2),
        "deploys_per_second": round(deploys / seconds, 1),
        "replayed": summary["replayed"],
        "failed": summary["failed"],
        "inconclusive": summary["inconclusive"],
        "history_days": round((history.end - history.start) / DAY, 1),
        "history_generated_s": round(generated, 2),
        "promtool_and_start_s": round(started, 2),
        # The machine is shared: the 1-minute load average says how contended the run was.
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def main_() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deploys", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        result = run(args.deploys, Path(tmp))
    met = bool(result["seconds"] < TARGET_S)
    print(f"{'deploys':>8} {'checks':>6} {'queries':>8} {'seconds':>8} {'deploys/s':>10} {'replayed':>9}")
    print(
        f"{result['deploys']:>8} {result['checks']:>6} {result['range_queries']:>8} {result['seconds']:>8} "
        f"{result['deploys_per_second']:>10} {result['replayed']:>9}"
    )
    print(f"target: {args.deploys} deploys x 3 checks < {TARGET_S:g} s: {'met' if met else 'NOT met'}")
    print(f"load average (1 min) during the run: {result['load_average_1m']}")
    out = REPO / "bench" / "results" / "backtest.json"
    out.write_text(
        json.dumps(
            {"runs": [result], "target": f"1000 deploys x 3 checks < {TARGET_S:g} s", "met": met}, indent=2
        )
        + "\n"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main_())
