"""Engine throughput: N concurrent verifications with 3 checks each against a loopback demo service.

Prints ticks/s, samples/s, tick lag p50/p99 (how late each sample was taken after it was due), CPU and RSS
for each N, and writes bench/results/engine.json. Usage: python bench/engine.py [--sizes 100,1000,5000]
`--before DIR --rounds 3` runs each size in a fresh process per round, alternating DIR's code and this one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
# The code under test: this checkout, or another one (the A of an A/B run, set by the parent process).
sys.path.insert(0, os.environ.get("BENCH_CODE", str(ROOT)))

from watchdog.analysis.timing import sample_offset  # noqa: E402
from watchdog.engine.runtime import build_runtime  # noqa: E402
from watchdog.events import DeployEvent  # noqa: E402
from watchdog.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from watchdog.engine.runtime import Runtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def write_config(root: Path, port: int, interval: int) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    base = f"http://127.0.0.1:{port}"
    (config / "watchdog.yaml").write_text(
        yaml.safe_dump(
            {"sources": {"demo-metrics": {"type": "scrape", "url": f"{base}/metrics", "concurrency": 32}}}
        )
    )
    policy = {
        "service": "bench",
        "defaults": {
            "verification": {
                "duration": "10m",
                "interval": f"{interval}s",
                "warmup": "0s",
                "failure_limit": 2,
            },
            "on_failure": "alert",
        },
        "environments": {
            "prod": {
                "checks": [
                    {"name": "healthz", "type": "http", "url": f"{base}/healthz", "expect": {"status": 200}},
                    {
                        "name": "version",
                        "type": "http",
                        "url": f"{base}/healthz",
                        "expect": {"json": {"status": "ok"}},
                    },
                    {
                        "name": "errors",
                        "type": "error_rate",
                        "source": "demo-metrics",
                        "errors": 'demo_requests_total{code="500"}',
                        "requests": "demo_requests_total",
                        "max": 0.5,
                    },
                ]
            }
        },
    }
    (config / "services" / "bench.yaml").write_text(yaml.safe_dump(policy))
    return config


async def run_size(
    n: int, *, interval: int, measure: float, settle: float, port: int
) -> dict[str, float | dict[str, int]]:
    """The size's figures (failed_reasons: reason -> count)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Flat field names, as the CLI passes them (Settings sorts them into their groups; the pydantic
        # plugin's signature knows the groups only). The constructor, whatever checkout BENCH_CODE names.
        flat: dict[str, Any] = {
            "config_dir": write_config(root, port, interval),
            "data_dir": root,
            "tick_seconds": 0.5,
            "lease_seconds": 120,
            "max_concurrent_verifications": 1000,
            "instance_id": "bench",
        }
        settings = Settings(**flat)
        runtime = build_runtime(settings)
        policy = runtime.policies.current.policy("bench", "prod")
        assert policy is not None
        dump = policy.model_dump(mode="json", by_alias=True)
        now = datetime.now(UTC)
        for i in range(n):
            # Deploy times spread over one interval: samples come due steadily, as in production.
            at = now - timedelta(seconds=interval * i / n)
            event = DeployEvent(service="bench", environment="prod", version=f"1.0.{i}", deployed_at=at)
            _accept(runtime, event, dump, now, i)
        ticks = 0
        original = runtime.engine.tick

        async def counting_tick() -> int:
            nonlocal ticks
            ticks += 1
            return await original()

        runtime.engine.tick = counting_tick  # type: ignore[method-assign]  # counts ticks: replaced on purpose
        await runtime.engine.start()
        # The first interval is the start-up burst (every verification captures its baseline at once);
        # it is left out so the numbers describe the steady state.
        # Steady state begins once every verification has started (bounded: at most `settle` + 180 s).
        began = time.monotonic()
        while time.monotonic() - began < 180:
            counts = await asyncio.to_thread(runtime.store.count_by_state)
            if not counts.get("pending"):
                break
            await asyncio.sleep(1.0)
        startup_s = time.monotonic() - began
        await asyncio.sleep(settle)
        ticks = 0
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        started = datetime.now(UTC)
        await asyncio.sleep(measure)
        wall = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        ended = datetime.now(UTC)
        await runtime.engine.stop(timeout=30)
        lags: list[float] = []
        taken = 0
        # The demo service is healthy throughout: every failing sample is a false alarm; overload samples
        # are the ones the daemon marked inconclusive for its own lateness. Start-up and steady apart.
        failed = {"startup": 0, "steady": 0}
        overload = {"startup": 0, "steady": 0}
        why: dict[str, int] = {}
        for row in _samples(runtime.store.engine):
            taken_at, starts_at, k, interval_s, outcome, reason, vid = row
            phase = "steady" if started <= taken_at < ended else "startup" if taken_at < started else ""
            if phase:
                failed[phase] += outcome == "fail"
                if outcome == "fail":
                    why[reason or ""] = why.get(reason or "", 0) + 1
                overload[phase] += "watchdog overloaded" in (reason or "")
            if not started <= taken_at < ended:
                continue
            taken += 1
            # Late against when the daemon meant to take it: k x interval plus this verification's offset.
            offset = sample_offset(vid, interval_s, share=settings.engine.sample_jitter)
            due = starts_at + timedelta(seconds=k * interval_s + offset)
            lags.append((taken_at - due).total_seconds())
        runtime.store.close()
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        return {
            "verifications": n,
            "checks": 3,
            "interval_s": interval,
            "wall_s": round(wall, 1),
            "ticks_per_s": round(ticks / wall, 2),
            "samples_per_s": round(taken / wall, 1),
            "samples": taken,
            "lag_p50_s": round(percentile(lags, 0.5), 3),
            "lag_p99_s": round(percentile(lags, 0.99), 3),
            "cpu_s": round(cpu, 1),
            "cpu_util": round(cpu / wall, 2),
            # Shed (overload) rows cost almost nothing: per probed row is the figure that compares codes.
            "cpu_ms_per_sample": round(1000 * cpu / max(1, taken), 2),
            "cpu_ms_per_probed": round(1000 * cpu / max(1, taken - overload["steady"]), 2),
            "rss_mb": round(rss_mb(), 1),
            "startup_s": round(startup_s, 1),
            "failed_samples": failed["steady"],
            "overload_samples": overload["steady"],
            "startup_failed_samples": failed["startup"],
            "startup_overload_samples": overload["startup"],
            "failed_reasons": dict(sorted(why.items(), key=lambda kv: -kv[1])[:5]),
        }


def _accept(runtime: Runtime, event: DeployEvent, dump: dict[str, object], now: datetime, i: int) -> None:
    # Each verification gets its own environment name, so none supersedes another.
    store = runtime.store
    store.accept_event(
        event=event.model_copy(update={"environment": f"prod{i}"}),
        source="bench",
        delivery_id=None,
        policy=dump,
        now=now,
    )


def _samples(engine: Engine) -> list[tuple[datetime, datetime, int, float, str, str | None, str]]:
    from sqlalchemy import select

    from watchdog.clock import utc
    from watchdog.store.schema import samples, verifications

    q = select(
        samples.c.taken_at,
        verifications.c.starts_at,
        samples.c.k,
        verifications.c.interval_s,
        samples.c.outcome,
        samples.c.reason,
        samples.c.verification_id,
    ).join(verifications, samples.c.verification_id == verifications.c.id)
    with engine.connect() as conn:
        rows = conn.execute(q)
        return [(utc(a), utc(b), int(k), float(i), str(o), r, str(v)) for a, b, k, i, o, r, v in rows]


KEYS = (
    "samples_per_s",
    "cpu_ms_per_probed",
    "lag_p50_s",
    "lag_p99_s",
    "startup_s",
    "cpu_util",
    "rss_mb",
    "overload_samples",
)


def ab(args: argparse.Namespace) -> int:
    """A/B: every round runs each size once per code, in fresh processes, alternating the codes."""
    codes = {"before": str(args.before.resolve()), "after": str(ROOT)}
    found: dict[tuple[str, int], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for n in (int(x) for x in args.sizes.split(",")):
            for name, code in codes.items():
                with tempfile.NamedTemporaryFile(suffix=".json") as out:
                    cmd = [sys.executable, __file__, "--sizes", str(n), "--interval", str(args.interval)]
                    cmd += ["--measure", str(args.measure), "--child-json", out.name]
                    env = {**os.environ, "BENCH_CODE": code}
                    # The children's logs (a line per gap in older code) stay out of the table.
                    subprocess.run(
                        cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                    found.setdefault((name, n), []).append(json.loads(Path(out.name).read_text()))
    print(f"engine A/B, {args.rounds} rounds alternating, every {args.interval}s; min / median / max")
    print("| code | verifications | " + " | ".join(KEYS) + " |")
    print("|" + "---|" * (len(KEYS) + 2))
    summary = {}
    for (name, n), runs in found.items():
        cells = []
        for key in KEYS:
            values = sorted(float(r[key]) for r in runs)
            cells.append(f"{values[0]:g} / {values[len(values) // 2]:g} / {values[-1]:g}")
        print(f"| {name} | {n} | " + " | ".join(cells) + " |")
        summary[f"{name}@{n}"] = runs
    out_path = ROOT / "bench" / "results" / "engine_ab.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"interval_s": args.interval, "runs": summary}, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--interval", type=int, default=30, help="seconds between samples of one check")
    parser.add_argument("--measure", type=float, default=75.0, help="seconds to run each size")
    parser.add_argument("--before", type=Path, help="another checkout to compare against (A/B)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child-json", help=argparse.SUPPRESS)  # one run of an A/B, its result here
    args = parser.parse_args()
    if args.before is not None:
        return ab(args)
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "watchdog.demo", "--port", str(port), "--rps", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        results = []
        for n in (int(x) for x in args.sizes.split(",")):
            results.append(
                asyncio.run(
                    run_size(n, interval=args.interval, measure=args.measure, settle=args.interval, port=port)
                )
            )
            r = results[-1]
            print(f"  {n} verifications done: {r['samples_per_s']} samples/s", file=sys.stderr)
    finally:
        demo.terminate()
        demo.wait()
    if args.child_json:
        Path(args.child_json).write_text(json.dumps(results[-1]))
        return 0
    header = [
        "verifications",
        "ticks/s",
        "samples/s",
        "lag p50 s",
        "lag p99 s",
        "CPU s",
        "CPU util",
        "CPU ms/probed",
        "RSS MB",
        "failed samples",
        "overload samples",
        "start-up failed",
        "start-up overload",
    ]
    keys = [
        "verifications",
        "ticks_per_s",
        "samples_per_s",
        "lag_p50_s",
        "lag_p99_s",
        "cpu_s",
        "cpu_util",
        "cpu_ms_per_probed",
        "rss_mb",
        "failed_samples",
        "overload_samples",
        "startup_failed_samples",
        "startup_overload_samples",
    ]
    print(
        f"engine: 3 checks each (2 http + 1 scrape) every {args.interval}s; after {args.interval}s of "
        f"start-up, {args.measure:g}s measured per size; {os.cpu_count()} cores"
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in results:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    out = ROOT / "bench" / "results" / "engine.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Runs at other intervals stay in the file (`runs`), so 3,000 at 10 s and 1,000 at 30 s sit side by side.
    runs = {}
    if out.exists():
        runs = json.loads(out.read_text()).get("runs", {})
    runs[f"{args.interval}s"] = {"settle_s": args.interval, "measure_s": args.measure, "results": results}
    out.write_text(
        json.dumps(
            {
                "interval_s": args.interval,
                "settle_s": args.interval,
                "measure_s": args.measure,
                "results": results,
                "runs": runs,
            },
            indent=2,
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
