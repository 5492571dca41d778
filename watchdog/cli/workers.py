"""`watchdog serve --workers N`: N engine processes on one store, sharing the work through the leases.

The first process serves the API, runs an engine and restarts a worker that dies; the others run an engine.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog import faults
from watchdog.settings import Settings
from watchdog.store.db import is_sqlite, normalize_url

log = logging.getLogger("watchdog")

MAX_WORKERS = 4
AUTO = 0  # --workers 0 / WATCHDOG_WORKERS=0: the default, one engine per usable CPU, at most MAX_WORKERS
# Where the serving process's pid reaches its workers: they check it is still their parent.
PARENT_ENV = "WATCHDOG_DAEMON_PID"
# A pipe's write end on which a worker says it runs (one byte once its engine has started).
READY_ENV = "WATCHDOG_WORKER_READY_FD"
ORPHAN_CHECK_S = 1.0  # where PR_SET_PDEATHSIG is missing (not Linux), how soon an orphan notices
SUPERVISE_S = 0.5
# A dead worker is restarted after 1 s, then 2, 4 ... 30 s while it keeps dying; a minute up resets that.
BACKOFF_S, BACKOFF_MAX_S, STABLE_S = 1.0, 30.0, 60.0


def _quota(text: str, period: str | None = None) -> float | None:
    """cgroup v2 `cpu.max` ("max 100000", "200000 100000") or v1 quota and period; None when unlimited."""
    quota, _, rest = text.strip().partition(" ")
    if quota in ("max", "-1"):
        return None
    q, p = int(quota), int(period if period is not None else rest)
    return q / p if q > 0 and p > 0 else None


def _cgroup_cpus(
    root: Path = Path("/sys/fs/cgroup"), membership: Path = Path("/proc/self/cgroup")
) -> float | None:
    """The tightest CPU quota on this process's cgroup and its ancestors (v2 and v1), in CPUs."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        v2 = controllers == ""
        if not v2 and "cpu" not in controllers.split(","):
            continue
        base = root if v2 else root / "cpu"
        here = Path(path.lstrip("/"))
        for node in (here, *here.parents):  # a quota on an ancestor binds too
            try:
                if v2:
                    q = _quota((base / node / "cpu.max").read_text())
                else:
                    text = (base / node / "cpu.cfs_quota_us").read_text()
                    q = _quota(text, (base / node / "cpu.cfs_period_us").read_text())
            except (OSError, ValueError):
                continue
            if q is not None:
                quotas.append(q)
    return min(quotas, default=None)


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by a container's CPU quota (rounded up).

    os.cpu_count() counts the host's, which would start 4 engines in a pod limited to one CPU.
    """
    affinity = getattr(os, "sched_getaffinity", None)
    n = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    quota = _cgroup_cpus()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def worker_count(settings: Settings, asked: int | None) -> int:
    """--workers, else the setting, else the usable CPUs (at most 4); 1 where processes cannot share."""
    n = next((x for x in (asked, settings.engine.workers) if x is not None), AUTO)
    if n == AUTO:
        n = usable_cpus()
    url = normalize_url(settings.resolved_database_url)
    if is_sqlite(url) and (url.database or ":memory:") == ":memory:":
        return 1  # an in-memory database lives in one process
    return max(1, min(MAX_WORKERS, n))


def worker_id(settings: Settings, index: int) -> str:
    """Stable across restarts (no pid), so a restarted worker takes its own leases back at once."""
    return f"{settings.engine.instance_id}-w{index}"


def _spawn(settings: Settings, index: int, count: int, ready_fd: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WATCHDOG_INSTANCE_ID": worker_id(settings, index), PARENT_ENV: str(os.getpid())}
    env["WATCHDOG_AUTO_MIGRATE"] = "false"  # the first process has migrated already
    env[READY_ENV] = str(ready_fd)
    cmd = [sys.executable, "-m", "watchdog", "serve", "--config", str(settings.files.config_dir)]
    cmd += ["--engine-worker", f"{index}/{count}"]
    # Same process group as this one: Ctrl-C and a kill of the group reach every engine.
    return subprocess.Popen(cmd, env=env, pass_fds=(ready_fd,))


Spawn = Callable[[Settings, int, int, int], subprocess.Popen[bytes]]


class Workers:
    """Engine workers 1..count-1 (this process is worker 0): started, restarted when they die, drained.

    Always spawned from the event loop's thread: PR_SET_PDEATHSIG fires when the *thread* that forked the
    child ends, so a worker forked from a pool thread would be killed when that thread retires.
    """

    def __init__(
        self,
        settings: Settings,
        count: int,
        spawn: Spawn = _spawn,
        on_missing: Callable[[frozenset[str]], None] = lambda _: None,
    ) -> None:
        self.settings = settings
        self.count = count
        self._spawn = spawn  # a test's stand-in process; the worker command otherwise
        # Told the ids of the workers not running (starting, dead, restarting) whenever that set changes:
        # the serving engine then claims every share and takes over their leases, so no verification waits
        # for a worker's start-up. An empty set: every worker runs.
        self._on_missing = on_missing
        self._missing: frozenset[str] | None = None
        self._ready: dict[int, int] = {}  # index -> the read end of its pipe, until it said it runs
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.restarts = 0
        self._since: dict[int, float] = {}  # index -> when its current process started (monotonic)
        self._failures: dict[int, int] = {}  # index -> deaths in a row, for the backoff
        self._due: dict[int, float] = {}  # index -> when a dead worker is started again
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Workers:
        for index in range(1, self.count):
            self._start(index)
        if self.procs:
            pids = [p.pid for p in self.procs.values()]
            log.info("%d engine workers started beside this one (pids %s)", len(pids), pids)
            self._task = asyncio.get_running_loop().create_task(self._supervise())
        return self

    def _start(self, index: int) -> None:
        read, write = os.pipe()
        try:
            self.procs[index] = self._spawn(self.settings, index, self.count, write)
        except OSError:
            os.close(read)
            raise
        finally:
            os.close(write)  # the child holds its own copy: its death closes the pipe
        os.set_blocking(read, False)
        self._ready[index] = read
        self._since[index] = time.monotonic()

    def _poll_ready(self) -> None:
        for index, fd in list(self._ready.items()):
            try:
                said = os.read(fd, 1)
            except BlockingIOError:
                continue  # still starting
            os.close(fd)  # it said so, or died first (end of file): nothing more to read either way
            del self._ready[index]
            if said:
                log.info("engine worker %s takes its share", worker_id(self.settings, index))
        missing = self.missing()
        if missing != self._missing:
            self._missing = missing
            self._on_missing(missing)

    def missing(self) -> frozenset[str]:
        """The instance ids of the workers that are not running now: starting, dead, or stopped."""
        return frozenset(
            worker_id(self.settings, index)
            for index in range(1, self.count)
            if index in self._ready
            or index in self._due
            or index not in self.procs
            or self.procs[index].poll() is not None
        )

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(SUPERVISE_S)
            self.check(time.monotonic())

    def check(self, now: float) -> None:
        """One supervision pass: notes the workers that died and starts again those whose backoff is over."""
        for index, proc in list(self.procs.items()):
            if index in self._due or proc.poll() is None:
                continue
            name = worker_id(self.settings, index)
            if proc.returncode == 0:
                # Only a drain exits 0 (someone sent it SIGTERM or Ctrl-C): its share passes to the others
                # once unclaimed for a lease's length.
                log.warning("engine worker %s (pid %d) stopped cleanly: not restarted", name, proc.pid)
                del self.procs[index]
                continue
            ran = now - self._since[index]
            failures = 1 if ran >= STABLE_S else self._failures.get(index, 0) + 1
            self._failures[index] = failures
            delay = min(BACKOFF_MAX_S, BACKOFF_S * 2 ** (failures - 1))
            self._due[index] = now + delay
            log.warning(
                "engine worker %s (pid %d) died (%s): restarting it in %gs; its leases lapse meanwhile",
                name,
                proc.pid,
                _how(proc.returncode),
                delay,
            )
        for index, due in list(self._due.items()):
            if now < due:
                continue
            name = worker_id(self.settings, index)
            try:
                self._start(index)
            except OSError as exc:  # no process to be had (fork refused): tried again after the longest wait
                log.error("engine worker %s could not be started: %s", name, exc)
                self._due[index] = now + BACKOFF_MAX_S
                continue
            del self._due[index]
            self.restarts += 1
            log.info("engine worker %s restarted (pid %d)", name, self.procs[index].pid)
        self._poll_ready()

    async def stop(self, *, timeout: float) -> None:
        """Stops supervising first (a drained worker is not started again), then drains every worker."""
        if self._task is not None:
            self._task.cancel()
        for fd in self._ready.values():
            os.close(fd)
        self._ready.clear()
        await stop_all(list(self.procs.values()), timeout=timeout)


def _how(code: int) -> str:
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:  # a real-time signal has no name
        return f"signal {-code}"


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


def _die_with_parent(parent: int) -> None:
    """A worker never outlives its serving process: SIGKILL (no drain) the moment that process dies.

    Not a drain: the daemon that replaces a dead one starts workers under the same instance ids, and two
    live processes with one id are not fenced from each other (a drain could finish a target call that the
    replacement's recovery starts again). Dying at once is what one process did before --workers.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere, the orphan check below
    if os.getppid() != parent:  # it died between the fork and the prctl
        os.kill(os.getpid(), signal.SIGKILL)


def _say_ready() -> None:
    """Tells the serving process this engine runs, so it leaves this worker's share to it from now on."""
    fd = os.environ.pop(READY_ENV, None)
    if fd is None:
        return
    try:
        os.write(int(fd), b"1")
        os.close(int(fd))
    except OSError:
        pass  # the serving process is gone: this process dies with it


async def run_worker(settings: Settings, *, index: int, count: int) -> int:
    """One engine-only process: ticks, leases, outbox; drains on SIGTERM/SIGINT, dies with its parent."""
    from watchdog.cli.serve import release_leases
    from watchdog.engine.plugins import close_all
    from watchdog.engine.runtime import build_runtime

    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    _die_with_parent(parent)
    faults.set_daemon(parent)  # a `kill` fault here kills the whole daemon, as with one process
    runtime = build_runtime(settings)
    runtime.engine.partition = (index, count)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def orphaned() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(ORPHAN_CHECK_S)
        log.warning("engine worker %s: the serving process is gone", settings.engine.instance_id)
        os.kill(os.getpid(), signal.SIGKILL)

    await runtime.engine.start()
    _say_ready()
    watch = asyncio.create_task(orphaned())
    health = asyncio.create_task(runtime.store.health.run(interval=settings.engine.tick_seconds))
    log.info("engine worker %s running (pid %d)", settings.engine.instance_id, os.getpid())
    try:
        await stop.wait()
    finally:
        await asyncio.gather(runtime.engine.requests.stop(), runtime.engine.stop())
        await close_all(runtime.engine.sources.values())  # after the drain: nothing samples now
        watch.cancel()
        health.cancel()
        release_leases(runtime.store, owner=settings.engine.instance_id)
        runtime.store.close()
    return 0
