"""Churn soak: ~1,000 verifications live at all times for 10 minutes on real daemons, RSS of the process tree.

Short windows (2 min at 10 s) end all the time and new signed events keep arriving, so the live count stays
flat while verifications come and go. Reports first- vs last-minute RSS and the curve in
bench/results/soak.json.
Usage: python bench/soak.py [--minutes 10 --verifications 1000] [--workers N --daemons K --store URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import fleet  # noqa: E402
from bench.daemon import sample_figures  # noqa: E402
from watchdog.events import FINAL  # noqa: E402

# Environments per live verification: a slot is deployed to again only a quarter-window after its last
# verification ended, so a new deploy never supersedes a live one (that would be churn of another kind).
SLOTS = 1.25


async def arrivals(urls: list[str], *, n: int, duration: float, until: float, sent: list[int]) -> None:
    """A new deploy every duration/n seconds (the rate at which windows end) until `until` (monotonic)."""
    slots, began, j = int(n * SLOTS), time.monotonic(), 0
    async with httpx.AsyncClient(timeout=60) as http:
        while time.monotonic() < until:
            due = int((time.monotonic() - began) * n / duration)
            batch = []
            while j < due:
                event = fleet.deploy_event(
                    n + j, environment=f"e{(n + j) % slots}", deployed_at=datetime.now(UTC)
                )
                batch.append(fleet.post_event(http, urls[j % len(urls)], event))
                j += 1
            await asyncio.gather(*batch)
            sent[0] = j
            await asyncio.sleep(0.2)


def live(db: Any) -> int:
    counts = fleet.states(db)
    return sum(c for s, c in counts.items() if s not in {x.value for x in FINAL})


async def run(args: argparse.Namespace, demo_port: int, counter_port: int, url: str | None) -> dict[str, Any]:
    n, duration = args.verifications, args.duration
    with tempfile.TemporaryDirectory(prefix="watchdog-soak-") as tmp:
        root = Path(tmp)
        config = fleet.write_config(
            root,
            demo_port=demo_port,
            counter_port=counter_port,
            interval=args.interval,
            duration=f"{duration}s",
            environments=int(n * SLOTS),
        )
        f = fleet.Fleet(root, config, daemons=args.daemons, workers=args.workers, url=url).start()
        db = fleet.store_engine(f.url)
        curve: list[dict[str, float]] = []
        try:
            # The first n at every age of a window (e0 the oldest), so they end one after another from the
            # start, e{s} at s x duration/n: arrival j reuses e{j - slots + n} a quarter-window after its end.
            await fleet.send_all(f.urls, [(s, f"e{s}", duration * (n - s) / n) for s in range(n)])
            t0 = time.monotonic()
            until = t0 + args.warmup + args.minutes * 60
            sent = [0]
            sender = asyncio.create_task(arrivals(f.urls, n=n, duration=duration, until=until, sent=sent))
            u0, started = f.usage(), datetime.now(UTC)
            while time.monotonic() < until:
                usage = f.usage()
                point = {
                    "t_s": round(time.monotonic() - t0, 1),
                    "rss_mb": round(sum(r for _, r in usage.values()), 1),
                    "live": live(db),
                    "arrived": sent[0],
                }
                curve.append(point)
                print(f"  {point}", file=sys.stderr)
                await asyncio.sleep(min(args.every, max(0.0, until - time.monotonic())))
            await sender
            u1, wall, ended = f.usage(), time.monotonic() - t0, datetime.now(UTC)
        finally:
            f.stop()
        warned = f.warnings()
        figures = sample_figures(fleet.sample_rows(db), started, ended)
        finished = sum(c for s, c in fleet.states(db).items() if s in {x.value for x in FINAL})
        db.dispose()
    # The warm-up is left out of the comparison: the first deploys sent end while the rest are still being
    # sent, so the live count climbs to n over about one window (623 to 1,100 in the first 2 min here).
    first_min = [p["rss_mb"] for p in curve if args.warmup <= p["t_s"] < args.warmup + 60]
    last_min = [p["rss_mb"] for p in curve if p["t_s"] >= curve[-1]["t_s"] - 60]
    cpu = sum(u1[k][0] - u0.get(k, (0.0, 0.0))[0] for k in u1)
    return {
        "verifications_live": n,
        "interval_s": args.interval,
        "window_s": duration,
        "minutes": args.minutes,
        "warmup_s": args.warmup,
        "store": "postgresql" if url else "sqlite",
        "daemons": args.daemons,
        "workers": args.workers if args.workers is not None else "default",
        "processes": len(u1),
        "arrived": sent[0],
        "intake_refused": dict(fleet.REFUSED),
        "finished": finished,
        "live_min": min(p["live"] for p in curve),
        "live_max": max(p["live"] for p in curve),
        "rss_first_minute_mb": round(mean(first_min), 1),
        "rss_last_minute_mb": round(mean(last_min), 1),
        "rss_ratio_last_first": round(mean(last_min) / mean(first_min), 3),
        "rss_max_mb": max(p["rss_mb"] for p in curve),
        "cpu_util": round(cpu / wall, 2),
        "samples_per_s": round(figures["samples"] / wall, 1),
        **{k: v for k, v in figures.items() if k != "samples"},
        "daemon_warnings": warned,
        "curve": curve,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verifications", type=int, default=1000, help="live at all times")
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--duration", type=int, default=120, help="seconds of each verification window")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=120.0,
        help="seconds before the measured minutes (live count climbing)",
    )
    parser.add_argument("--every", type=float, default=15.0, help="seconds between RSS readings")
    parser.add_argument("--daemons", type=int, default=1)
    parser.add_argument("--workers", type=int, help="--workers of each daemon (default: the daemon's own)")
    parser.add_argument("--store", help="a PostgreSQL URL: a fresh database on that server")
    args = parser.parse_args()
    with fleet.services() as (demo_port, counter_port), fleet.database(args.store) as url:
        r = asyncio.run(run(args, demo_port, counter_port, url))
    load = os.getloadavg()
    r["load_average"] = [round(x, 2) for x in load]
    print(
        f"soak: {r['verifications_live']} live ({r['live_min']}-{r['live_max']}), {args.duration}s windows "
        f"at {args.interval}s, {args.warmup:g}s warm-up + {args.minutes:g} min, {r['arrived']} new deploys, "
        f"{r['processes']} daemon processes; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        "| RSS first min MB | RSS last min MB | last / first | RSS max MB | CPU util | samples/s | lag p99 s "
        "| failed / overload |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {r['rss_first_minute_mb']} | {r['rss_last_minute_mb']} | {r['rss_ratio_last_first']} | "
        f"{r['rss_max_mb']} | {r['cpu_util']} | {r['samples_per_s']} | {r['lag_p99_s']} | "
        f"{r['failed_samples']} / {r['overload_samples']} |"
    )
    out = ROOT / "bench" / "results" / "soak.json"
    out.write_text(json.dumps(r, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
