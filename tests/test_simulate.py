"""`watchdog simulate` and its parts: the scenario loader's errors, step-held replay, baselines, exit codes.

The command is driven in-process through `watchdog.cli.main`; the corpus runs as a subprocess elsewhere.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchdog.analysis import Verdict
from watchdog.cli import main
from watchdog.errors import ConfigError
from watchdog.scenario import load_scenario
from watchdog.simulate import simulate

GOOD = """\
name: demo
deploy_at: 2026-11-01T12:00:00Z
policy:
  verification: {duration: 5m, interval: 30s, warmup: 30s, failure_limit: 2, baseline_window: 10m}
  checks:
    - {name: errors, type: error_rate, max: 0.02}
    - {name: up, type: http}
data:
  errors:
    errors:   [[-900, 50], [-600, 3], [-570, 2], [-30, null], [0, 4], [90, 61]]
    requests: [[-900, 1000], [-600, 1000], [-540, 1000], [0, 1000]]
  up:
    up: [[0, 1]]
expect: failed
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_step_hold_and_baseline(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, GOOD))
    assert s.deploy_at == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert s.measurement("errors", 60).values == {"errors": 4.0, "requests": 1000.0}
    assert s.measurement("errors", 119.9).values["errors"] == 61.0  # held from 90 s
    assert s.measurement("up", -1).values == {"up": None}  # before the first point: no data
    base = s.baseline("errors")
    # -900 is outside the 10 minute window; -30 has no errors value, so it is dropped; -540 holds errors 2
    assert base is not None and base.values == {
        "errors": [3.0, 2.0, 2.0],
        "requests": [1000.0, 1000.0, 1000.0],
    }
    assert s.baseline("up") is None  # no points before the deploy


def test_simulate_result(tmp_path: Path) -> None:
    r = simulate(load_scenario(write(tmp_path, GOOD)), keep_judgements=True)
    assert (r.verdict, r.action, r.decided_after_s, r.failed_checks) == (
        Verdict.FAILED,
        "rollback",
        120.0,
        ("errors",),
    )
    assert r.matches_expect
    assert [j.t for j in r.judgements if j.check == "errors"] == [30.0, 60.0, 90.0, 120.0]
    assert r.to_json() == {
        "name": "demo",
        "verdict": "failed",
        "action": "rollback",
        "decided_after_s": 120.0,
        "failed_checks": ["errors"],
    }


def test_json_scenarios(tmp_path: Path) -> None:
    import yaml

    doc = yaml.safe_load(GOOD)
    doc["deploy_at"] = "2026-11-01T12:00:00Z"
    s = load_scenario(write(tmp_path, json.dumps(doc), "s.json"))
    assert simulate(s).verdict is Verdict.FAILED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("  up:\n    up: [[0, 1]]\n", "  up:\n    up: [[0, 1]]\n  nope:\n    value: []\n"),
            "data for unknown check 'nope'; the policy's checks: errors, up",
        ),
        (
            GOOD.replace("    requests: [[-900, 1000], [-600, 1000], [-540, 1000], [0, 1000]]\n", ""),
            "data.errors: a error_rate check needs role(s) errors, requests; missing requests",
        ),
        (GOOD.replace("  up:\n    up: [[0, 1]]\n", ""), "no data for check(s) up"),
        (
            GOOD.replace("max: 0.02", "max: lots"),
            "policy.checks.0.error_rate.max: Input should be a valid number",
        ),
        (GOOD.replace("[[0, 1]]", "[[0, yes]]"), "data.up.up[0]: the value must be a number or null"),
        (GOOD.replace("[[0, 1]]", "[0, 1]"), "data.up.up[0]: expected [seconds, value|null]"),
        (GOOD.replace("expect: failed", "expect: broken"), "expect must be one of"),
        (GOOD.replace("name: demo", "nmae: demo"), "unknown key(s) nmae"),
        (
            GOOD.replace("deploy_at: 2026-11-01T12:00:00Z", "deploy_at: tuesday"),
            "deploy_at: 'tuesday' is not",
        ),
    ],
)
def test_invalid_scenarios_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_syntax_errors_carry_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"s\.json:2:1: invalid JSON"):
        load_scenario(write(tmp_path, '{"name": "x",\n}', "s.json"))
    with pytest.raises(ConfigError, match=r"s\.yaml:3:\d+: invalid YAML"):
        load_scenario(write(tmp_path, "name: x\npolicy: {a: 1\ndata: [\n"))


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, GOOD, "good.yaml")
    wrong = write(tmp_path, GOOD.replace("expect: failed", "expect: passed"), "wrong.yaml")
    bad = write(tmp_path, "name: [", "bad.yaml")
    assert main(["simulate", str(good)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["verdict"] == "failed" and line["decided_after_s"] == 120.0
    assert main(["simulate", str(wrong)]) == 0  # without --check-expect a differing verdict is just printed
    capsys.readouterr()
    assert main(["simulate", "--check-expect", str(good), str(wrong)]) == 1
    captured = capsys.readouterr()
    assert (
        len(captured.out.splitlines()) == 2
        and "wrong.yaml: demo: expected passed, got failed" in captured.err
    )
    assert main(["simulate", "--check-expect", str(good), str(bad)]) == 2
    assert "bad.yaml" in capsys.readouterr().err


def test_cli_directory_reasons_and_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, "ignored", "notes.txt")
    assert main(["simulate", "--reasons", "--explain", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    line = json.loads(captured.out)
    assert line["reasons"] == ["errors: 2 failing samples in a row; last: error rate 6.1% > limit 2.0%"]
    assert "demo t=90s errors: fail: error rate 6.1% > limit 2.0%" in captured.err
