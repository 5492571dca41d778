"""SIGKILL to one engine worker of `serve --workers 2` (not the serving process) while it holds a bad deploy
mid-window: the serving process restarts it, and the verdict, the one target call and the messages hold.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.crash.harness import INSTANCE, World, wait_until, world
from tests.e2e.daemon import Daemon, alive
from watchdog.events import SAMPLING
from watchdog.store import Store

pytestmark = pytest.mark.slow

SERVICES = ("shop", "cart", "pay", "ship")
WORKER = f"{INSTANCE}-w1"
# Four failing samples before the verdict (2 s at 0.5 s): room to see a sample of it, then kill.
WINDOW = {"failure_limit": 4}
# Verifications are split by the first hex digit of a random id, so a round of four deploys leaves none
# on the worker one time in 16; another round is then deployed (each round is checked like the others).
ROUNDS = 4


def held_mid_window(w: World, deployments: list[str]) -> str | None:
    """A deployment whose verification the worker holds, with a sample stored and no verdict yet."""
    store = Store(w.database)
    try:
        for d in deployments:
            v = store.deploy_verification(d)
            if v.lease_owner == WORKER and v.state in SAMPLING and store.samples_for(v.id):
                return d
        return None
    finally:
        store.close()


def sampling(w: World, deployment_id: str) -> bool:
    store = Store(w.database)
    try:
        return store.deploy_verification(deployment_id).state in SAMPLING
    finally:
        store.close()


def kill_worker_mid_window(w: World, daemon: Daemon, deployments: list[str]) -> str | None:
    """Kills the worker once it holds one of `deployments` mid-window; None when all were decided first."""
    found: list[str] = []

    def ready() -> bool:
        victim = held_mid_window(w, deployments)
        if victim is not None:
            found.append(victim)
            return True
        return not any(sampling(w, d) for d in deployments)  # all decided elsewhere (or before a look)

    wait_until(ready, timeout=30, what="the worker to hold a deploy mid-window")
    if not found:
        return None
    [pid] = daemon.workers_pids()
    os.kill(pid, signal.SIGKILL)
    # Nothing writes its verification until the worker is back (1 s) or its lease lapses (3 s).
    assert sampling(w, found[0]), "the kill came after the verdict: not mid-window"
    daemon.wait_for(
        lambda: f"engine worker {WORKER} restarted" in daemon.log.read_text(),
        what="the serving process to restart the killed worker",
        timeout=30,
    )
    assert not alive(pid)
    [again] = daemon.workers_pids()
    assert again != pid
    log = daemon.log.read_text()
    assert re.search(rf"engine worker {WORKER} \(pid {pid}\) died \(signal SIGKILL\)", log), log[-3000:]
    return found[0]


def test_a_worker_killed_mid_window_is_restarted_and_its_bad_deploy_rolled_back_once(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'watchdog.db'}"
    with world(tmp_path, database, SERVICES, windows=dict.fromkeys(SERVICES, WINDOW)) as w:
        daemon = w.daemon(workers=2)
        daemon.wait_for(
            lambda: f"engine worker {WORKER} takes its share" in daemon.log.read_text(), what="w1", timeout=60
        )
        victim = None
        for round_ in range(1, ROUNDS + 1):
            bad = [w.deploy(daemon, s, f"1.{round_}.0-bad") for s in SERVICES]
            if victim is None:
                victim = kill_worker_mid_window(w, daemon, bad)
            for service, deployment in zip(SERVICES, bad, strict=True):
                final = w.settled(daemon, deployment, {"rolled_back"})
                where = (round_, service, deployment == victim)
                assert final["state"] == "rolled_back", (where, final["reasons"], final["transitions"])
                assert [r["to_version"] for r in final["rollbacks"]] == ["1.0.0"], where
                sent = w.messages(deployment)
                assert sent["failed"] == 1 and sent["rolled_back"] == 1, (where, sent)
            # Exactly one target call per bad deploy so far, the killed worker's one included.
            assert all(w.restores(s) == round_ for s in SERVICES), {s: w.apps[s].deploys for s in SERVICES}
            if victim is not None:
                break
        assert victim is not None, f"in {ROUNDS} rounds of {len(SERVICES)}, no deploy went to the worker"
        assert w.artifact_status("shop", "1.1.0-bad") == "bad"
        w.check_nothing_left()
