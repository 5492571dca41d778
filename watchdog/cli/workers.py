"""`watchdog serve --workers N`: N engine processes on one store, sharing the work through the leases.

The first process serves the API and runs an engine; the others run only an engine, each as its own replica.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from watchdog.settings import Settings
from watchdog.store.db import is_sqlite, normalize_url

log = logging.getLogger("watchdog")

MAX_WORKERS = 4
AUTO = 0  # --workers 0 / WATCHDOG_WORKERS=0: one engine per CPU, at most MAX_WORKERS
# A worker whose parent is gone (SIGKILLed) drains and exits instead of working on unwatched.
ORPHAN_CHECK_S = 1.0


def worker_count(settings: Settings, asked: int | None) -> int:
    """--workers, else the setting, else 1 ("auto": the CPU count, at most 4); 1 where processes cannot share.

    One by default for now: the crash-point and SIGKILL suites have been proven on one process only.
    """
    n = next((x for x in (asked, settings.engine.workers) if x is not None), 1)
    if n == AUTO:
        n = min(MAX_WORKERS, os.cpu_count() or 1)
    url = normalize_url(settings.resolved_database_url)
    if is_sqlite(url) and (url.database or ":memory:") == ":memory:":
        return 1  # an in-memory database lives in one process
    return max(1, min(MAX_WORKERS, n))


def worker_id(settings: Settings, index: int) -> str:
    """Stable across restarts (no pid), so a restarted worker takes its own leases back at once."""
    return f"{settings.engine.instance_id}-w{index}"


def spawn(settings: Settings, count: int) -> list[subprocess.Popen[bytes]]:
    """Starts engine workers 1..count-1 (this process is worker 0), with this process's environment."""
    procs = []
    for index in range(1, count):
        env = {**os.environ, "WATCHDOG_INSTANCE_ID": worker_id(settings, index)}
        env["WATCHDOG_AUTO_MIGRATE"] = "false"  # the first process has migrated already
        cmd = [sys.executable, "-m", "watchdog", "serve", "--config", str(settings.files.config_dir)]
        cmd += ["--engine-worker", f"{index}/{count}"]
        procs.append(subprocess.Popen(cmd, env=env))
    if procs:
        log.info("%d engine workers started beside this one (pids %s)", len(procs), [p.pid for p in procs])
    return procs


async def stop_all(procs: Sequence[subprocess.Popen[bytes]], *, timeout: float) -> None:
    """SIGTERM to every worker (each drains as a replica does), then waits; a worker that hangs is killed."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    def wait(proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("engine worker %d did not drain in %gs: killed", proc.pid, timeout)
            proc.kill()
            proc.wait()

    await asyncio.gather(*(asyncio.to_thread(wait, p) for p in procs))
    failed = [(p.pid, p.returncode) for p in procs if p.returncode not in (0, -signal.SIGKILL)]
    if failed:
        log.warning("engine workers exited with errors (pid, code): %s", failed)


def _die_with_parent() -> None:
    """Linux: SIGTERM (a drain) as soon as the serving process dies; elsewhere the orphan check serves."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


async def run_worker(settings: Settings, *, index: int, count: int) -> int:
    """One engine-only process: ticks, leases, outbox; drains on SIGTERM/SIGINT or when its parent dies."""
    from watchdog.cli.serve import release_leases
    from watchdog.engine.runtime import build_runtime

    _die_with_parent()
    runtime = build_runtime(settings)
    runtime.engine.partition = (index, count)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()

    async def orphaned() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(ORPHAN_CHECK_S)
        log.warning("engine worker %s: the serving process is gone; draining", settings.engine.instance_id)
        stop.set()

    await runtime.engine.start()
    watch = asyncio.create_task(orphaned())
    health = asyncio.create_task(runtime.store.health.run(interval=settings.engine.tick_seconds))
    log.info("engine worker %s running (pid %d)", settings.engine.instance_id, os.getpid())
    try:
        await stop.wait()
    finally:
        await asyncio.gather(runtime.engine.requests.stop(), runtime.engine.stop())
        watch.cancel()
        health.cancel()
        release_leases(runtime.store, owner=settings.engine.instance_id)
        runtime.store.close()
    return 0
