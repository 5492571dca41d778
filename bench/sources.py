"""Benchmark: 1,000 concurrent verifications sharing 20 Datadog queries, against the loopback fake.

Prints requests per sampling interval, cache hit rate and wall time; writes bench/results/sources.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python bench/sources.py` from anywhere: the fake lives in tests/

from tests.fakes.datadog import FakeDatadog  # noqa: E402
from watchdog.plumbing import Plumbing  # noqa: E402
from watchdog.policy.checks import LatencyCheck  # noqa: E402
from watchdog.policy.connections import DatadogSourceConfig  # noqa: E402
from watchdog.sources.base import SampleContext  # noqa: E402
from watchdog.sources.datadog import DatadogSource  # noqa: E402
from watchdog.telemetry import Metrics  # noqa: E402

BUCKET = 30.0
INTERVAL = 30.0


def query(i: int) -> str:
    return f"p99:trace.http.request.duration{{service:svc{i},env:prod}}"


async def run(*, verifications: int, queries: int, rounds: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    base = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)  # a multiple of the bucket
    with FakeDatadog() as fake:
        for i in range(queries):
            fake.add(query(i), [(base.timestamp() + t, 0.1 + i / 100) for t in range(-600, 600, 10)])
        metrics = Metrics()
        config = DatadogSourceConfig(type="datadog", host=fake.url, cache_bucket=BUCKET, concurrency=4)
        source = DatadogSource("datadog", config, plumbing=Plumbing(metrics=metrics, environ={}))
        checks = [
            LatencyCheck(name=f"p99-{i}", type="latency", source="datadog", query=query(i))
            for i in range(queries)
        ]
        contexts = [
            SampleContext(
                deployment_id=f"d{v}",
                verification_id=f"v{v}",
                service=f"svc{v % queries}",
                environment="prod",
                version="1.0.0",
                artifact="a",
                deployed_at=base,
            )
            for v in range(verifications)
        ]
        # Each verification samples at its own offset inside the bucket, as deploys land at any second.
        offsets = [rng.uniform(0, BUCKET - 1) for _ in range(verifications)]
        rows = []
        try:
            for r in range(rounds):
                before_requests, before = (
                    len(fake.requests),
                    (source.cache.stats.hits, source.cache.stats.misses),
                )
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(
                        source.sample(
                            checks[v % queries],
                            at=base + timedelta(seconds=(r + 1) * INTERVAL + offsets[v]),
                            interval=INTERVAL,
                            ctx=contexts[v],
                        )
                        for v in range(verifications)
                    )
                )
                wall = time.perf_counter() - started
                hits = source.cache.stats.hits - before[0]
                misses = source.cache.stats.misses - before[1]
                rows.append(
                    {
                        "interval": r + 1,
                        "samples": len(results),
                        "conclusive": sum(
                            1 for m in results if m.error is None and m.values.get("value") is not None
                        ),
                        "requests": len(fake.requests) - before_requests,
                        "cache_hit_rate": round(hits / (hits + misses), 4),
                        "wall_s": round(wall, 4),
                    }
                )
        finally:
            await source.aclose()
    return {
        "benchmark": "datadog source: single-flight cache under concurrent verifications",
        "verifications": verifications,
        "distinct_queries": queries,
        "cache_bucket_s": BUCKET,
        "sample_interval_s": INTERVAL,
        "thread_concurrency": 4,
        "intervals": rows,
        "max_requests_per_interval": max(row["requests"] for row in rows),
        "ok": all(row["requests"] <= queries for row in rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verifications", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--intervals", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sources.json")
    args = parser.parse_args()
    result = asyncio.run(
        run(verifications=args.verifications, queries=args.queries, rounds=args.intervals, seed=args.seed)
    )
    print(f"{result['verifications']} verifications, {result['distinct_queries']} distinct queries")
    print(f"{'interval':>8} {'samples':>8} {'conclusive':>10} {'requests':>9} {'hit rate':>9} {'wall s':>8}")
    for row in result["intervals"]:
        print(
            f"{row['interval']:>8} {row['samples']:>8} {row['conclusive']:>10} {row['requests']:>9}"
            f" {row['cache_hit_rate']:>9.1%} {row['wall_s']:>8.3f}"
        )
    verdict = "ok" if result["ok"] else "FAIL"
    print(
        f"max requests per interval: {result['max_requests_per_interval']} ({verdict}: at most one per query)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
