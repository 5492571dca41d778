"""The HTTP client path alone: httpx's own transport vs the sources' aiohttp one (or httpx-aiohttp, uvloop).

A bare loop does the engine's request mix (2 GETs of /healthz and one of /metrics per verification) against
the loopback demo service, `--concurrency` requests in flight through one long-lived client whose pool is
sized to that concurrency. Every variant runs in a fresh process, the variants alternating inside every
round; it reports requests/s and the client process's CPU per request (min / median / max).
Writes bench/results/http_transport.json. Usage: python bench/http_transport.py [--rounds 3]
[--variants httpx/asyncio,watchdog/asyncio]; `watchdog` is watchdog/sources/transport.py, what the sources
use. The `aiohttp` (httpx-aiohttp) and uvloop variants need `pip install httpx-aiohttp==0.2.0
uvloop==0.23.0` (measured, not project dependencies).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("httpx/asyncio", "watchdog/asyncio")  # the default A/B: httpx's own pool vs the sources' one


def _transport(kind: str, concurrency: int) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    if kind == "watchdog":
        from watchdog.sources.transport import AiohttpTransport as Ours

        return Ours(limit=concurrency)
    if kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits)
        return transport
    return httpx.AsyncHTTPTransport(limits=limits)


async def _run(kind: str, *, port: int, concurrency: int, seconds: float) -> dict[str, float]:
    base = f"http://127.0.0.1:{port}"
    paths = ["/healthz", "/healthz", "/metrics"]  # the engine's mix per verification
    done = errors = 0
    async with httpx.AsyncClient(transport=_transport(kind, concurrency), timeout=5.0) as client:
        stop = time.monotonic() + seconds

        async def worker(i: int) -> None:
            nonlocal done, errors
            n = i
            while time.monotonic() < stop:
                try:
                    response = await client.get(base + paths[n % 3])
                    response.read()
                    done += 1
                except httpx.HTTPError:  # counted: a transport that fails requests is no faster
                    errors += 1
                n += 1

        for _ in range(2):  # warm the pool, then measure
            await client.get(base + "/healthz")
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return {
        "requests_per_s": round(done / wall, 1),
        "cpu_ms_per_request": round(1000 * cpu / max(1, done), 3),
        "errors": errors,
    }


def child(variant: str, *, port: int, concurrency: int, seconds: float) -> dict[str, float]:
    kind, loop = variant.split("/")
    coro = _run(kind, port=port, concurrency=concurrency, seconds=seconds)
    if loop == "uvloop":
        import uvloop

        result: dict[str, float] = uvloop.run(coro)
        return result
    return asyncio.run(coro)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated transport/loop")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, port=args.port, concurrency=args.concurrency, seconds=args.seconds)
        print(json.dumps(result))
        return 0
    variants = args.variants.split(",")
    found: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    sys.path.insert(0, str(ROOT))
    from watchdog.demo.app import DemoApp

    # The service in threads of this process; the clients under test each in a fresh process.
    with DemoApp(port=0, version="1.0.0", rps=200).start() as demo:
        port = int(demo.url.rsplit(":", 1)[1])
        for _ in range(args.rounds):
            for variant in variants:
                cmd = [sys.executable, __file__, "--child", variant, "--port", str(port)]
                cmd += ["--seconds", str(args.seconds), "--concurrency", str(args.concurrency)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                found[variant].append(json.loads(out.strip().splitlines()[-1]))
    print(f"HTTP client path, {args.concurrency} in flight, {args.seconds:g}s per run, {args.rounds} rounds")
    print("| transport / loop | requests/s (min / med / max) | CPU ms per request | failed requests |")
    print("|---|---|---|---|")
    for variant, runs in found.items():
        cells = []
        for key in ("requests_per_s", "cpu_ms_per_request", "errors"):
            values = sorted(r[key] for r in runs)
            cells.append(f"{values[0]:g} / {values[len(values) // 2]:g} / {values[-1]:g}")
        print(f"| {variant} | " + " | ".join(cells) + " |")
    out_path = ROOT / "bench" / "results" / "http_transport.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"concurrency": args.concurrency, "runs": found}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
