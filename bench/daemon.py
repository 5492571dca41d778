"""Real daemons: N verifications x 3 checks sent as signed events to K `watchdog serve` processes, measured.

Reports samples/s, lag p50/p99 (as bench/engine.py), each event's 202 to its verification's start, failed and
overload samples, CPU and RSS of all daemon processes, probes per sample and the split between instance ids.
Usage: python bench/daemon.py [--verifications 5000 --interval 30] [--daemons 3 --workers 2 --store URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import fleet  # noqa: E402
from bench.engine import percentile  # noqa: E402
from watchdog.analysis.timing import sample_offset  # noqa: E402
from watchdog.settings import EngineSettings  # noqa: E402

JITTER = float(EngineSettings.model_fields["sample_jitter"].default)


def sample_figures(rows: list[Any], started: datetime, ended: datetime) -> dict[str, Any]:
    """Lag of the samples taken in [started, ended) from when each was due (its jitter offset added), and
    the failing (false alarms: the service is healthy) and overload samples of the window and before it."""
    lags: list[float] = []
    failed = {"startup": 0, "steady": 0}
    overload = {"startup": 0, "steady": 0}
    why: dict[str, int] = {}
    for taken_at, starts_at, k, interval_s, outcome, reason, vid in rows:
        phase = "steady" if started <= taken_at < ended else "startup" if taken_at < started else ""
        if not phase:
            continue
        failed[phase] += outcome == "fail"
        overload[phase] += "watchdog overloaded" in (reason or "")
        if outcome == "fail":
            why[reason or ""] = why.get(reason or "", 0) + 1
        if phase == "steady":
            due = starts_at + timedelta(seconds=k * interval_s + sample_offset(vid, interval_s, share=JITTER))
            lags.append((taken_at - due).total_seconds())
    return {
        "samples": len(lags),
        "lag_p50_s": round(percentile(lags, 0.5), 3),
        "lag_p99_s": round(percentile(lags, 0.99), 3),
        "failed_samples": failed["steady"],
        "overload_samples": overload["steady"],
        "startup_failed_samples": failed["startup"],
        "startup_overload_samples": overload["startup"],
        "failed_reasons": dict(sorted(why.items(), key=lambda kv: -kv[1])[:5]),
    }


def start_figures(accepted: dict[str, float], started: dict[str, float]) -> dict[str, Any]:
    """Seconds from each event's 202 to its verification's start; a verification never started is counted."""
    waits = [started[d] - at for d, at in accepted.items() if d in started]
    return {
        "started": len(waits),
        "start_p50_s": round(percentile(waits, 0.5), 2),
        "start_p99_s": round(percentile(waits, 0.99), 2),
        "start_max_s": round(max(waits, default=0.0), 2),
    }


def probe_figures(
    times: dict[str, list[float]],
    before: dict[str, list[float]],
    may: dict[str, int],
    must: dict[str, int],
    interval: float,
) -> dict[str, Any]:
    """The `version` check's probes against its stored rows: a probe beyond the rows that may have one is a
    sample probed twice (by two engines, or one twice) or a probe whose step the drain dropped (the probes
    of the drain are counted apart); a pass or fail without a probe was never probed. Two probes of one
    verification less than 0.4 interval apart are one sample probed twice, wherever they came from (sample
    k+1's probe comes at least half an interval after k's: a later one is shed, not probed).
    """
    probes = {d: len(ts) for d, ts in times.items()}
    close = sum(b - a < 0.4 * interval for ts in times.values() for a, b in pairwise(ts))
    return {
        "version_probes": sum(probes.values()),
        "version_rows": sum(may.values()),
        "probes_beyond_rows": sum(max(0, n - may.get(d, 0)) for d, n in probes.items()),
        "verifications_probed_beyond_rows": sum(n > may.get(d, 0) for d, n in probes.items()),
        "probes_during_drain": sum(probes.values()) - sum(len(ts) for ts in before.values()),
        "probes_under_04_interval_apart": close,
        "judged_rows_without_probe": sum(max(0, n - probes.get(d, 0)) for d, n in must.items()),
    }


async def watch(
    f: fleet.Fleet, seconds: float, rss: list[tuple[float, float]], t0: float, every: float = 5.0
) -> None:
    """RSS of the whole tree every `every` seconds, for `seconds`."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        rss.append((round(time.monotonic() - t0, 1), round(sum(r for _, r in f.usage().values()), 1)))
        await asyncio.sleep(min(every, left))


async def run(args: argparse.Namespace, demo_port: int, counter_port: int, url: str | None) -> dict[str, Any]:
    n, interval = args.verifications, args.interval
    with tempfile.TemporaryDirectory(prefix="watchdog-daemon-bench-") as tmp:
        root = Path(tmp)
        config = fleet.write_config(
            root,
            demo_port=demo_port,
            counter_port=counter_port,
            interval=interval,
            duration="10m",
            environments=n,
            distinct=args.distinct_policies,
        )
        f = fleet.Fleet(root, config, daemons=args.daemons, workers=args.workers, url=url).start()
        db = fleet.store_engine(f.url)
        try:
            # Deploy times spread over one interval, as bench/engine.py: samples come due steadily.
            deploys = [(i, f"e{i}", interval * i / n) for i in range(n)]
            t_send = time.monotonic()
            accepted = await fleet.send_all(f.urls, deploys)
            intake_s = time.monotonic() - t_send
            print(f"  {n} events accepted in {intake_s:.1f}s", file=sys.stderr)
            # Steady state once every verification has started (bounded), then one more interval.
            while time.monotonic() - t_send < args.startup_limit and fleet.states(db).get("pending"):
                await asyncio.sleep(2.0)
            startup_s = time.monotonic() - t_send
            print(f"  started after {startup_s:.1f}s; settling {interval}s", file=sys.stderr)
            await asyncio.sleep(interval)
            rss: list[tuple[float, float]] = []
            u0, t0, started = f.usage(), time.monotonic(), datetime.now(UTC)
            await watch(f, args.measure, rss, t0)
            u1, wall, ended = f.usage(), time.monotonic() - t0, datetime.now(UTC)
            split = fleet.owners(db)
            pending = fleet.states(db).get("pending", 0)
            before = fleet.probe_times(counter_port)
        finally:
            f.stop()
        warned = f.warnings()
        times = fleet.probe_times(counter_port)
        figures = sample_figures(fleet.sample_rows(db), started, ended)
        may, must = fleet.rows_per_deployment(db, "version")
        begun = fleet.starts(db)
        db.dispose()
    cpu = {name: round(u1[name][0] - u0.get(name, (0.0, 0.0))[0], 1) for name in u1}
    total_cpu = sum(cpu.values())
    return {
        "verifications": n,
        "checks": 3,
        "interval_s": interval,
        "store": "postgresql" if url else "sqlite",
        "policies": "distinct" if args.distinct_policies else "shared",
        "daemons": args.daemons,
        "workers": args.workers if args.workers is not None else "default",
        "processes": len(u1),
        "intake_s": round(intake_s, 1),
        "intake_events_per_s": round(n / intake_s, 1),
        "intake_refused": dict(fleet.REFUSED),  # answers retried (status: count), e.g. 503 database locked
        "startup_s": round(startup_s, 1),
        "still_pending": pending,
        "wall_s": round(wall, 1),
        "samples_per_s": round(figures["samples"] / wall, 1),
        "asked_samples_per_s": round(3 * n / interval, 1),
        **figures,
        **start_figures(accepted, begun),
        "all_started_within_30s": len(begun) >= n and start_figures(accepted, begun)["start_max_s"] < 30,
        "cpu_s": round(total_cpu, 1),
        "cpu_util": round(total_cpu / wall, 2),
        "cpu_ms_per_sample": round(total_cpu / max(figures["samples"], 1) * 1000, 2),
        "cpu_s_per_process": cpu,
        "rss_mb": round(sum(r for _, r in u1.values()), 1),
        "rss_max_mb": max((r for _, r in rss), default=0.0),
        "rss_mb_per_process": {name: round(r, 1) for name, (_, r) in u1.items()},
        "verifications_per_owner": dict(sorted(split.items())),
        **probe_figures(times, before, may, must, interval),
        "daemon_warnings": warned,
        "rss_curve": rss,
    }


# header, and the cell it shows of a run's result
COLUMNS: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
    ("samples/s (asked)", lambda r: f"{r['samples_per_s']} ({r['asked_samples_per_s']})"),
    ("lag p50 / p99 s", lambda r: f"{r['lag_p50_s']} / {r['lag_p99_s']}"),
    (
        "202 to start p50 / p99 / max s",
        lambda r: f"{r['start_p50_s']} / {r['start_p99_s']} / {r['start_max_s']}",
    ),
    ("started", lambda r: f"{r['started']}/{r['verifications']}"),
    (
        "intake events/s (retried)",
        lambda r: f"{r['intake_events_per_s']} ({sum(r['intake_refused'].values())})",
    ),
    ("CPU util", lambda r: r["cpu_util"]),
    ("CPU ms/sample", lambda r: r["cpu_ms_per_sample"]),
    ("RSS MB (max)", lambda r: f"{r['rss_mb']} ({r['rss_max_mb']})"),
    ("failed / overload", lambda r: f"{r['failed_samples']} / {r['overload_samples']}"),
    (
        "probes beyond rows (in the drain) / under 0.4 interval apart / judged rows unprobed",
        lambda r: (
            f"{r['probes_beyond_rows']} ({r['probes_during_drain']}) / "
            f"{r['probes_under_04_interval_apart']} / {r['judged_rows_without_probe']}"
        ),
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verifications", type=int, default=5000)
    parser.add_argument("--interval", type=int, default=30, help="seconds between samples of one check")
    parser.add_argument("--measure", type=float, default=180.0, help="seconds of steady state measured")
    parser.add_argument("--daemons", type=int, default=1, help="`watchdog serve` processes on one store")
    parser.add_argument("--workers", type=int, help="--workers of each daemon (default: the daemon's own)")
    parser.add_argument("--store", help="a PostgreSQL URL: each run gets a fresh database on that server")
    parser.add_argument("--startup-limit", type=float, default=300.0, help="seconds to wait for all started")
    parser.add_argument("--name", help="the run's key in bench/results/daemon.json")
    parser.add_argument(
        "--distinct-policies",
        action="store_true",
        help="each environment a policy of its own (memory's worst case); default: one shared policy",
    )
    args = parser.parse_args()
    with fleet.services() as (demo_port, counter_port), fleet.database(args.store) as url:
        result = asyncio.run(run(args, demo_port, counter_port, url))
    load = os.getloadavg()
    result["load_average"] = [round(x, 2) for x in load]
    result["cores"] = os.cpu_count()
    name = args.name or (
        f"{result['store']}-{args.verifications}x{args.interval}s-d{args.daemons}-w{result['workers']}"
        + ("-distinct" if args.distinct_policies else "")
    )
    print(
        f"{name}: 3 checks each (2 http + 1 scrape) every {args.interval}s, {args.measure:g}s of steady state"
        f" measured after all started + one interval; {result['processes']} daemon processes; "
        f"{os.cpu_count()} cores; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print("| " + " | ".join(h for h, _ in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    print("| " + " | ".join(str(cell(result)) for _, cell in COLUMNS) + " |")
    print(
        f"verifications per owner: {result['verifications_per_owner']}; CPU s: {result['cpu_s_per_process']}"
    )
    out = ROOT / "bench" / "results" / "daemon.json"
    runs = json.loads(out.read_text()).get("runs", {}) if out.exists() else {}
    runs[name] = result  # runs of other shapes stay beside it
    out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
