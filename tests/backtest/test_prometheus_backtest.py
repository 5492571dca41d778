"""`watchdog backtest` against a real Prometheus backfilled with three weeks of history (promtool).

Expectations come from labels: clear regressions fail, healthy deploys pass, low traffic may be inconclusive.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.backtest.conftest import Shop, write_config, write_deploys
from watchdog.cli import main

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WATCHDOG_DATABASE_URL", raising=False)


def _config(tmp_path: Path, shop: Shop) -> Path:
    return write_config(
        tmp_path / "config", sources=f"  prom: {{type: prometheus, url: '{shop.prometheus.url}'}}\n"
    )


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


BEFORE_HISTORY = '{"version": "0.9.0", "deployed_at": "2020-01-01T12:00:00Z"}'


def test_json_rows_match_labels_and_summary(
    tmp_path: Path, shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, shop)
    deploys = write_deploys(tmp_path / "deploys.jsonl", shop.deploys, extra=[BEFORE_HISTORY])
    code, out, err = _run(
        [
            "backtest",
            "--service",
            "shop",
            "--environment",
            "production",
            "--config",
            str(config),
            "--deploys",
            str(deploys),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    rows, summary = lines[:-1], lines[-1]["summary"]
    assert len(rows) == 31
    first = rows[0]
    # The deploy before the history starts: not replayable, and it says why.
    assert first["version"] == "0.9.0"
    assert first["replayed_verdict"] == "not replayable"
    assert "no data" in first["why_not"] and "check errors" in first["why_not"]
    assert first["action"] is None and first["decided_after_s"] is None and first["label"] is None
    by_version = {r["version"]: r for r in rows[1:]}
    for d in shop.deploys:
        row = by_version[d.version]
        assert set(row) == {
            "version",
            "artifact",
            "deployed_at",
            "label",
            "recorded_verdict",
            "replayed_verdict",
            "action",
            "decided_after_s",
            "failed_checks",
            "reasons",
            "not_replayed",
            "why_not",
        }
        assert row["deployed_at"] == d.deployed_at
        assert row["artifact"] == d.version  # defaults to the version
        assert row["label"] == d.label
        assert row["recorded_verdict"] is None  # not in any store
        assert row["why_not"] is None
        assert row["replayed_verdict"] in d.allowed, (d, row)
        # The http probe has no history and no store: left out, and the row says why.
        assert row["not_replayed"] == {
            "healthz": "not replayable: http probes keep no history and the deploy is not in the store"
        }
        if row["replayed_verdict"] == "failed":
            assert row["action"] == "rollback"
            assert row["failed_checks"] and set(row["failed_checks"]) <= {"errors", "p99"}
            assert 60 < row["decided_after_s"] <= 600
            assert row["reasons"] and all(isinstance(r, str) and r for r in row["reasons"])
        else:
            assert row["action"] == ("alert" if row["replayed_verdict"] == "inconclusive" else "none")
            assert row["failed_checks"] == []
            assert row["decided_after_s"] == 600
    # Latency regressions fail on p99; an errors-only regression never blames p99.
    assert "p99" in by_version["1.10.0"]["failed_checks"]
    assert by_version["1.7.0"]["failed_checks"] == ["errors"]

    verdicts = {d.version: by_version[d.version]["replayed_verdict"] for d in shop.deploys}
    bad = [d for d in shop.deploys if d.label == "bad"]
    good = [d for d in shop.deploys if d.label == "good"]
    caught = [d for d in bad if verdicts[d.version] == "failed"]
    false_rollbacks = [d for d in good if verdicts[d.version] == "failed"]
    assert false_rollbacks == []
    assert len(caught) >= 9  # the only one allowed to slip is below min_requests throughout
    decided = sorted(by_version[d.version]["decided_after_s"] for d in caught)
    assert summary == {
        "deploys": 31,
        "replayed": 30,
        "not_replayable": 1,
        "failed": len(caught),
        "would_roll_back": len(caught),
        "newly_caught": 0,
        "newly_passed": 0,
        "inconclusive": sum(1 for v in verdicts.values() if v == "inconclusive"),
        "labelled": 30,
        "false_rollbacks": 0,
        "missed_regressions": 10 - len(caught),
        "precision": 1.0,
        "recall": round(len(caught) / 10, 4),
        "false_rollback_rate": 0.0,
        "median_time_to_decide_s": _median(decided),
    }


def test_table_and_summary_lines(tmp_path: Path, shop: Shop, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, shop)
    deploys = write_deploys(tmp_path / "deploys.jsonl", shop.deploys[:6])
    code, out, err = _run(
        [
            "backtest",
            "--service",
            "shop",
            "--environment",
            "production",
            "--config",
            str(config),
            "--deploys",
            str(deploys),
        ],
        capsys,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "version",
        "deployed",
        "at",
        "recorded",
        "replayed",
        "decided",
        "after",
        "reason",
    ]
    row = next(line for line in lines if line.startswith("1.1.0 (bad)"))
    assert " failed " in row and "errors:" in row
    row = next(line for line in lines if line.startswith("1.2.0 (good)"))
    assert " passed " in row and "600s" in row
    assert "deploys: 6 (6 replayed, 0 not replayable)" in out
    assert "labelled: 6; false rollbacks: 0; missed regressions: 0; precision: 100%; recall: 100%" in out
    assert err == ""  # no progress bar when stderr is not a terminal


def test_bad_deploys_file_names_the_line(
    tmp_path: Path, shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, shop)
    bad = tmp_path / "deploys.jsonl"
    bad.write_text(
        '{"version": "1.0.0", "deployed_at": "2026-11-01T12:00:00Z"}\n'
        '{"version": "1.1.0", "label": "meh", "deployed_at": "2026-11-01T13:00:00Z"}\n'
    )
    code, out, err = _run(
        [
            "backtest",
            "--service",
            "shop",
            "--environment",
            "production",
            "--config",
            str(config),
            "--deploys",
            str(bad),
        ],
        capsys,
    )
    assert code == 2 and out == ""
    assert f"{bad}:2:1: label must be" in err


def _median(xs: list[float]) -> float:
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
