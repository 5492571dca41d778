"""Policy reload: how long the event loop stalls during a reload, and how fast a YAML bomb is refused.

A heartbeat coroutine ticks every 5 ms; the longest gap between ticks is the stall the API and engine see.
Prints a table and writes bench/results/reload.json.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watchdog.policy.reload import PolicyHolder  # noqa: E402
from watchdog.policy.yamlfile import parse_yaml  # noqa: E402

SERVICES = 200
BOMB = (
    "service: demo\na: &a ["
    + ",".join(['"lol"'] * 9)
    + "]\n"
    + "".join(f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True))
)


def make_config(root: Path) -> Path:
    shutil.copytree(ROOT / "config", root / "config")
    template = (root / "config" / "services" / "demo.yaml").read_text()
    for i in range(SERVICES):
        (root / "config" / "services" / f"svc{i}.yaml").write_text(
            template.replace("service: demo", f"service: svc{i}")
        )
    return root / "config"


async def longest_stall(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(longest gap between 5 ms heartbeats, wall time of the work), both in seconds."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await work()
    took = time.perf_counter() - started
    done.set()
    await beat
    return max(gaps), took


async def run(config: Path, bomb: Path) -> dict[str, dict[str, float]]:
    holder = PolicyHolder(config)
    results: dict[str, dict[str, float]] = {}

    async def on_loop() -> object:
        return holder.reload()

    async def in_thread() -> object:
        return await asyncio.to_thread(holder.reload)

    for name, work in (("reload on the loop (before)", on_loop), ("reload in a thread (now)", in_thread)):
        stall, took = await longest_stall(work)
        results[name] = {"stall_ms": round(stall * 1000, 1), "reload_ms": round(took * 1000, 1)}
    started = time.perf_counter()
    problems = parse_yaml(bomb).problems
    assert problems and "aliases expand" in problems[0].message
    results["alias bomb refused"] = {
        "stall_ms": 0.0,
        "reload_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return results


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp))
        bomb = Path(tmp) / "bomb.yaml"
        bomb.write_text(BOMB)
        results = asyncio.run(run(config, bomb))
    print(f"policy reload of {SERVICES + 3} service files; alias bomb of {len(BOMB)} bytes")
    print(f"{'case':32} {'loop stall ms':>14} {'took ms':>9}")
    for name, r in results.items():
        print(f"{name:32} {r['stall_ms']:>14.1f} {r['reload_ms']:>9.1f}")
    out = ROOT / "bench" / "results" / "reload.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"services": SERVICES + 3, "bomb_bytes": len(BOMB), "results": results}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
