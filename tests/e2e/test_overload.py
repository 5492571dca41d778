"""An overloaded daemon never blames the service: a real daemon whose event loop is stalled on purpose (the
`while_sampling=block:<s>` fault point) while a healthy demo service is probed fails no sample.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.crash.harness import world
from watchdog.store import Store

pytestmark = pytest.mark.slow


def test_a_stalled_loop_makes_samples_inconclusive_never_failing(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'watchdog.db'}"
    with world(tmp_path, database, windows={"shop": {"duration": "10s", "min_conclusive": 0.2}}) as w:
        # Three stalls of 2 s while probes are in flight: longer than the check's 1 s timeout and than
        # four 0.5 s intervals, so in-flight probes time out and the next samples are taken late. One engine
        # process: the passes are counted per process, and with two a verification taken over by the other
        # one (its lease adopted at start-up) can miss the stalls, which is about sharing, not about lag.
        daemon = w.daemon(
            faults="while_sampling=block:2@4,while_sampling=block:2@9,while_sampling=block:2@14",
            workers=1,
        )
        deployment = w.deploy(daemon, "shop", "1.1.0")
        final = w.settled(daemon, deployment, {"passed", "failed"})
        readyz = httpx.get(f"{daemon.url}/readyz", timeout=5).json()
        metrics = httpx.get(f"{daemon.url}/metrics", timeout=5).text
        dashboard = httpx.get(f"{daemon.url}/", timeout=5).text
        store = Store(database)
        try:
            samples = store.samples_for(store.deploy_verification(deployment).id)
            gaps = [t.reason for t in store.transitions_for(deployment) if t.reason.startswith("gap: ")]
        finally:
            store.close()
    failing = [(s.check_name, s.k, s.reason) for s in samples if s.outcome == "fail"]
    assert not failing, failing
    overload = [s.reason or "" for s in samples if "watchdog overloaded" in (s.reason or "")]
    # A stall shows in the samples as "watchdog overloaded" (a probe that timed out behind it, or the
    # next sample taken more than half an interval late) or as a gap: after it the daemon samples the
    # current instant, and the ones it slept through are recorded as missed. Which one depends on where
    # in an interval the stall ends, so each run shows one or the other, never a failure.
    assert overload or gaps, "\n".join(f"{s.check_name} {s.k} {s.outcome}: {s.reason}" for s in samples)
    assert all(s.outcome == "inconclusive" for s in samples if "watchdog overloaded" in (s.reason or ""))
    assert all("late" in r or "event loop lagged" in r or "queued" in r for r in overload), overload
    assert all("nobody sampled in time" in g for g in gaps), gaps
    assert final["state"] != "failed", final
    # The stalls were seen: /readyz names the lag of the last minute (degraded, still ready).
    assert readyz["event_loop_lag_s"] > 1.0, readyz
    assert readyz["overloaded"].startswith("watchdog overloaded"), readyz
    assert readyz["ready"] is True
    assert "watchdog_event_loop_lag_seconds " in metrics
    counted = [line for line in metrics.splitlines() if line.startswith("watchdog_overload_samples_total ")]
    assert counted and float(counted[0].split()[1]) >= len(overload), counted
    assert 'id="daemon-lag"' in dashboard and "watchdog overloaded" in dashboard
