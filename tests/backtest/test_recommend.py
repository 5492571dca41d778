"""`watchdog recommend` on the backfilled history: its proposed limits meet the target in their own backtest.

The proposal is fed back as `backtest --policy FILE`, through the same command an SRE would run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.backtest.conftest import Shop, write_config, write_deploys
from watchdog.cli import main


@pytest.fixture(autouse=True)
def _no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WATCHDOG_DATABASE_URL", raising=False)


def _args(tmp_path: Path, shop: Shop, command: str) -> list[str]:
    source = f"  prom: {{type: prometheus, url: '{shop.prometheus.url}'}}\n"
    config = write_config(tmp_path / "config", sources=source)
    deploys = write_deploys(tmp_path / "deploys.jsonl", shop.deploys)
    return [command, "--service", "shop", "--environment", "production", "--config", str(config),
            "--deploys", str(deploys)]  # fmt: skip


def test_proposed_limits_meet_the_target_in_their_own_backtest(
    tmp_path: Path, shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(tmp_path, shop, "recommend")
    assert main([*args, "--target-false-rollbacks", "1%", "--json"]) == 0
    proposal = json.loads(capsys.readouterr().out)
    assert proposal["target_false_rollbacks"] == 0.01
    assert proposal["met"] is True
    assert proposal["deploys"] == 30
    assert proposal["proposed"]["good"] == 20 and proposal["proposed"]["bad"] == 10
    assert proposal["proposed"]["false_rollback_rate"] <= 0.01
    # Tighter, never looser: at least as many regressions caught as the current policy.
    assert proposal["proposed"]["caught"] >= proposal["current"]["caught"]
    assert proposal["changes"], "the test's policy leaves room to tighten"
    for path, change in proposal["changes"].items():
        assert path.startswith(("checks.", "verification.")), path
        assert change["proposed"] != change["current"]

    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(yaml.safe_dump(proposal["policy"]))
    backtest = [*_args(tmp_path, shop, "backtest"), "--policy", str(candidate), "--json"]
    assert main(backtest) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = lines[-1]["summary"]
    assert summary["false_rollback_rate"] is not None and summary["false_rollback_rate"] <= 0.01
    assert summary["false_rollbacks"] == proposal["proposed"]["false_rollbacks"]
    assert summary["failed"] - summary["false_rollbacks"] == proposal["proposed"]["caught"]
    # The candidate really was replayed: each changed limit shows in the policy that ran.
    errors = next(
        c for c in proposal["policy"]["environments"]["production"]["checks"] if c["name"] == "errors"
    )
    if "checks.errors.max" in proposal["changes"]:
        assert errors["max"] == proposal["changes"]["checks.errors.max"]["proposed"]


def test_yaml_snippet_carries_the_figures(
    tmp_path: Path, shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(tmp_path, shop, "recommend")) == 0
    out = capsys.readouterr().out
    comments = [line for line in out.splitlines() if line.startswith("#")]
    assert comments[0].startswith("# watchdog recommend shop/production: 30 deploys replayed")
    assert comments[1].startswith("#   current:  false rollbacks 0/20 (0.0%), regressions caught ")
    assert comments[2].startswith("#   proposed: false rollbacks 0/20 (0.0%), regressions caught ")
    assert "bounds the true rate below 15.0% (95%)" in out
    snippet = yaml.safe_load(out)
    assert snippet["service"] == "shop"
    assert [c["name"] for c in snippet["environments"]["production"]["checks"]] == [
        "healthz",
        "errors",
        "p99",
    ]


def test_a_bad_target_is_refused(tmp_path: Path, shop: Shop, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_args(tmp_path, shop, "recommend"), "--target-false-rollbacks", "lots"]) == 2
    assert "--target-false-rollbacks: 'lots' is not a rate" in capsys.readouterr().err
