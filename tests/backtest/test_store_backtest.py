"""`watchdog backtest --since`: past deploys, their recorded verdicts and their http samples from the store.

The store is written through its own API, as the engine writes it; metrics come from the backfilled history.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.backtest.conftest import Shop, write_config
from tests.backtest.synthetic import Deploy
from watchdog.analysis.models import Baseline, Measurement
from watchdog.cli import main
from watchdog.events import DeployEvent
from watchdog.store import Store
from watchdog.store.records import SampleRow


def _record(store: Store, *, version: str, at: datetime, verdict: str, up: list[float]) -> None:
    """One finished verification as the engine leaves it: the event, healthz samples, the verdict."""
    accepted = store.accept_event(
        event=DeployEvent(service="shop", environment="production", version=version, deployed_at=at),
        source="generic",
        delivery_id=None,
        policy={"verification": {"duration": 600.0, "interval": 30.0}},
        now=at,
    )
    vid = accepted.verification.id
    [claimed] = [
        c
        for c in store.claim_due(owner="t", now=at + timedelta(seconds=30), lease_s=60, limit=50)
        if c.id == vid
    ]
    samples = [
        SampleRow(
            verification_id=vid,
            check_name="healthz",
            k=k,
            t=30.0 * k,
            taken_at=at + timedelta(seconds=30 * k),
            outcome="pass" if value else "fail",
            reason="probe",
            observed=value,
            warmup=k <= 2,
            measurement=Measurement(values={"up": value}, note=None if value else "status 503").to_json(),
        )
        for k, value in enumerate(up, start=1)
    ]
    baseline = {"healthz": Baseline(values={"up": [1.0] * 10}).to_json()}
    assert store.record_step(
        verification_id=vid, owner="t", epoch=claimed.lease_epoch, now=at + timedelta(seconds=600),
        samples=samples, next_k=len(up) + 1, next_sample_at=None, baseline=baseline,
        transition=(verdict, "recorded for the test"), verdict=verdict,
    )  # fmt: skip


# The recent deploys are the last nine (1.21.0 on), whatever the time of day: the plan's deploys sit at fixed
# times of day, so a fixed "last 6 days" held two regressions most of the day and one between about 10:00
# and 11:00 UTC. The window opens ten minutes before 1.21.0 (its neighbours are 16.8 h away).
FIRST_RECENT = 21


def _since_minutes(shop: Shop) -> int:
    return math.ceil((datetime.now(UTC).timestamp() - shop.deploys[FIRST_RECENT].at) / 60) + 10


def _recent(shop: Shop) -> list[Deploy]:
    return shop.deploys[FIRST_RECENT:]


@pytest.fixture
def store_with_history(tmp_path: Path, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> Store:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("WATCHDOG_DATA_DIR", str(data))
    monkeypatch.delenv("WATCHDOG_DATABASE_URL", raising=False)
    store = Store(f"sqlite:///{data / 'watchdog.db'}")
    store.upgrade()
    healthy, down = [1.0] * 20, [1.0, 1.0, 1.0, 0.0, 0.0, 0.0] + [1.0] * 14
    recent = _recent(shop)
    for d in recent:
        at = datetime.fromtimestamp(d.at, UTC)
        # The daemon passed 1.25.0 (a regression it missed); 1.26.0's probe was down for a minute and a half.
        verdict = "failed" if d.version == "1.26.0" else "passed"
        _record(
            store, version=d.version, at=at, verdict=verdict, up=down if d.version == "1.26.0" else healthy
        )
    # One deploy whose samples retention already purged.
    store.purge(
        samples_before=datetime.fromtimestamp(recent[0].at, UTC) + timedelta(hours=1),
        deliveries_before=datetime.now(UTC),
    )
    store.close()
    return store


def test_deploys_verdicts_and_probe_samples_come_from_the_store(
    tmp_path: Path, shop: Shop, store_with_history: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "config", sources=f"  prom: {{type: prometheus, url: '{shop.prometheus.url}'}}\n"
    )
    argv = ["backtest", "--service", "shop", "--environment", "production", "--config", str(config),
            "--since", f"{_since_minutes(shop)}m", "--json"]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rows, summary = {r["version"]: r for r in lines[:-1]}, lines[-1]["summary"]
    recent = _recent(shop)
    assert sorted(rows) == sorted(d.version for d in recent)
    first = rows[recent[0].version]
    assert first["not_replayed"] == {
        "healthz": "not replayable: http probes keep no history and the store has no samples of this deploy"
    }
    assert first["recorded_verdict"] == "passed"
    # The stored probe samples are replayed: the outage at t = 120..180 s fails healthz again.
    outage = rows["1.26.0"]
    assert outage["recorded_verdict"] == "failed"
    assert outage["not_replayed"] == {}
    assert outage["replayed_verdict"] == "failed" and outage["failed_checks"] == ["healthz"]
    assert outage["decided_after_s"] == 150.0
    # Regressions the daemon let through (recorded passed) that this policy catches: newly caught.
    labels = {d.version: d.label for d in recent}
    for version, row in rows.items():
        if labels[version] == "bad":
            assert (row["recorded_verdict"], row["replayed_verdict"]) == ("passed", "failed"), row
        elif version != "1.26.0":
            assert row["replayed_verdict"] in {"passed", "inconclusive"}, row
    assert summary["newly_caught"] == sum(1 for label in labels.values() if label == "bad") >= 2
    assert summary["newly_passed"] == 0
    assert summary["labelled"] == 0 and summary["precision"] is None and summary["recall"] is None


def test_without_a_store_and_without_deploys_it_says_what_to_do(
    tmp_path: Path, shop: Shop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATCHDOG_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    config = write_config(
        tmp_path / "config", sources=f"  prom: {{type: prometheus, url: '{shop.prometheus.url}'}}\n"
    )
    code = main(["backtest", "--service", "shop", "--environment", "production", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot be reached; or pass --deploys FILE" in err
