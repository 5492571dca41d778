"""`serve --workers`: how many engine processes (CPUs this process may use, a container's quota, at most 4),
and the supervision of real worker processes that die: restarted after a growing backoff, a drain never.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from watchdog.cli import workers
from watchdog.cli.workers import MAX_WORKERS, Workers, _cgroup_cpus, _quota, usable_cpus, worker_count
from watchdog.settings import Settings


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, instance_id="wd", **overrides)


def test_the_default_is_the_usable_cpus_at_most_four(tmp_path: Path) -> None:
    assert worker_count(settings(tmp_path), None) == min(MAX_WORKERS, usable_cpus())
    assert worker_count(settings(tmp_path, workers=0), None) == min(MAX_WORKERS, usable_cpus())
    assert worker_count(settings(tmp_path, workers=3), None) == 3
    assert worker_count(settings(tmp_path, workers=3), 1) == 1  # --workers wins over the setting
    assert worker_count(settings(tmp_path, workers=8), None) == MAX_WORKERS  # a pod's CPU request of 8


def test_an_in_memory_store_runs_one_process(tmp_path: Path) -> None:
    assert worker_count(settings(tmp_path, database_url="sqlite://", workers=4), None) == 1


def test_usable_cpus_count_the_affinity_mask_not_the_host() -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    quota = _cgroup_cpus()
    expected = len(os.sched_getaffinity(0))
    assert usable_cpus() == (expected if quota is None else min(expected, max(1, -(-quota // 1))))


@pytest.mark.parametrize(
    ("text", "period", "cpus"),
    [
        ("max 100000\n", None, None),
        ("150000 100000\n", None, 1.5),
        ("-1\n", "100000", None),
        ("50000", "100000", 0.5),
    ],
)
def test_cgroup_quota_lines(text: str, period: str | None, cpus: float | None) -> None:
    assert _quota(text, period) == cpus


def test_the_tightest_quota_of_the_cgroup_and_its_ancestors_binds(tmp_path: Path) -> None:
    membership = tmp_path / "cgroup"
    membership.write_text("0::/kubepods/pod1/c1\n")
    for node, line in [
        ("kubepods", "max 100000"),
        ("kubepods/pod1", "200000 100000"),
        ("kubepods/pod1/c1", "max 100000"),
    ]:
        (tmp_path / "fs" / node).mkdir(parents=True)
        (tmp_path / "fs" / node / "cpu.max").write_text(line + "\n")
    assert _cgroup_cpus(tmp_path / "fs", membership) == 2.0
    v1 = tmp_path / "v1"
    membership.write_text("4:memory:/x\n1:cpu,cpuacct:/docker/abc\n")
    (v1 / "cpu" / "docker" / "abc").mkdir(parents=True)
    (v1 / "cpu" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu" / "docker" / "abc" / "cpu.cfs_period_us").write_text("100000\n")
    assert _cgroup_cpus(v1, membership) == 1.0
    assert _cgroup_cpus(tmp_path / "nothing", membership) is None


class Exits:
    """Stand-in workers: real processes that exit with the given codes, one per start, in turn."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, _: Settings, index: int, count: int, ready_fd: int) -> subprocess.Popen[bytes]:
        code = self.codes.pop(0)
        proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
        proc.wait()  # dead before the supervisor looks, as a worker found dead would be
        self.started.append(proc)
        return proc


def test_a_dead_worker_is_restarted_after_a_growing_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exits = Exits(3, 3, 3, 0)
    sup = Workers(settings(tmp_path), 2, spawn=exits)
    sup._start(1)  # as start() does, without its asyncio supervision task: check() is driven here
    t0 = sup._since[1]
    with caplog.at_level(logging.INFO, logger="watchdog"):
        sup.check(t0 + 1)  # found dead (exit code 3): due again 1 s later
        assert len(exits.started) == 1 and sup.restarts == 0
        sup.check(t0 + 1.9)
        assert len(exits.started) == 1  # not before its backoff
        sup.check(t0 + 2)
        assert len(exits.started) == 2 and sup.restarts == 1
        sup._since[1] = t0 + 2
        sup.check(t0 + 2.5)  # dead again at once: twice the wait
        sup.check(t0 + 4.4)
        assert len(exits.started) == 2
        sup.check(t0 + 4.5)
        assert len(exits.started) == 3
        sup._since[1] = t0 + 4.5
        sup.check(t0 + 4.5 + workers.STABLE_S)  # it ran a minute: back to the first wait
        sup.check(t0 + 5.5 + workers.STABLE_S)
        assert len(exits.started) == 4  # and this one drained (exit 0)
        sup.check(t0 + 100 + workers.STABLE_S)
        assert len(exits.started) == 4 and 1 not in sup.procs  # a drain is not restarted
    text = caplog.text
    assert "engine worker wd-w1 (pid" in text and "died (exit code 3): restarting it in 1s" in text
    assert "restarting it in 2s" in text and "engine worker wd-w1 restarted (pid" in text
    assert "stopped cleanly: not restarted" in text


def test_a_worker_killed_by_a_signal_is_named_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def killed(_: Settings, index: int, count: int, ready_fd: int) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
        )
        proc.wait()
        return proc

    sup = Workers(settings(tmp_path), 3, spawn=killed)
    sup._start(1)
    sup._start(2)
    with caplog.at_level(logging.WARNING, logger="watchdog"):
        sup.check(sup._since[2] + 0.1)
    assert caplog.text.count("died (signal SIGKILL)") == 2
    assert "wd-w1" in caplog.text and "wd-w2" in caplog.text


def test_the_serving_engine_takes_every_share_until_each_worker_says_it_runs(tmp_path: Path) -> None:
    """Real processes on the readiness pipe: one says it runs, one dies without a word, then comes back."""
    said: list[frozenset[str]] = []
    # A running stand-in says so on the pipe, then on stdout (so the test goes on after it), then lives
    # until its stdin closes.
    runs = "import os, sys; os.write(int(sys.argv[1]), b'1'); print('said', flush=True); sys.stdin.read()"
    scripts = iter([runs, "raise SystemExit(1)", runs])
    alive: list[subprocess.Popen[bytes]] = []

    def spawn(_: Settings, index: int, count: int, ready_fd: int) -> subprocess.Popen[bytes]:
        script = next(scripts)
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(ready_fd)],
            pass_fds=(ready_fd,),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        if script == runs:
            assert proc.stdout is not None and proc.stdout.readline() == b"said\n"
            alive.append(proc)
        else:
            proc.wait()
        return proc

    sup = Workers(settings(tmp_path), 3, spawn=spawn, on_missing=said.append)
    try:
        sup._start(1)
        sup._start(2)
        t0 = sup._since[2]
        w2 = {n for n in sup.missing() if n.endswith("-w2")}
        sup.check(t0 + 0.1)  # w1 said it runs; w2 is dead: its leases are the serving engine's to take
        assert said == [frozenset(w2)] and sup.restarts == 0
        sup.check(t0 + 1.1)  # w2 restarted, and has said it runs
        assert said[-1] == frozenset() and sup.restarts == 1
        assert alive[0].stdin is not None
        alive[0].stdin.close()  # w1 drains (exits 0): not restarted, so its share is the serving engine's
        alive[0].wait()
        sup.check(t0 + 1.2)
        assert len(said) == 3 and {n[-3:] for n in said[-1]} == {"-w1"}
    finally:
        for proc in alive:
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
            proc.wait()
