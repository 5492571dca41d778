"""Bad input to a backtest is refused with file:line and nothing runs; the progress bar only on a terminal.

No source is queried here: every refusal happens before the first fetch.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.backtest.conftest import write_config
from watchdog.backtest.deploys import read_deploys_file
from watchdog.backtest.policyfile import load_policy
from watchdog.backtest.progress import Progress
from watchdog.errors import ConfigError

SOURCES = "  prom: {type: prometheus, url: 'http://127.0.0.1:9'}\n"


def test_deploys_file_problems_name_each_line(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    path.write_text(
        '{"version": "1.0.0", "deployed_at": "2026-11-01T12:00:00Z"}\n'
        "\n"
        '{"version": "1.1.0", "deployed_at": "yesterday"}\n'
        '{"version": "1.2.0", "deployed_at": "2026-11-01T12:00:00Z", "env": "prod"}\n'
        "{not json\n"
    )
    with pytest.raises(ConfigError) as info:
        read_deploys_file(path)
    problems = [str(p) for p in info.value.problems]
    assert problems == [
        f"{path}:3:1: deployed_at 'yesterday' is not an ISO 8601 time such as 2026-11-01T12:00:00Z",
        f"{path}:4:1: unknown key(s) env; known: artifact, deployed_at, label, version",
        f"{path}:5:2: invalid JSON: Expecting property name enclosed in double quotes",
    ]


def test_deploys_file_is_read_oldest_first_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    path.write_text(
        '{"version": "2.0.0", "deployed_at": "2026-11-02T12:00:00+01:00", "label": "bad"}\n'
        '{"version": "1.0.0", "deployed_at": "2026-11-01T12:00:00", "artifact": "reg/shop@sha256:ab"}\n'
    )
    first, second = read_deploys_file(path)
    assert (first.version, first.artifact, first.label) == ("1.0.0", "reg/shop@sha256:ab", None)
    assert first.deployed_at.isoformat() == "2026-11-01T12:00:00+00:00"  # naive means UTC
    assert (second.artifact, second.label) == ("2.0.0", "bad")
    assert second.deployed_at.isoformat() == "2026-11-02T11:00:00+00:00"


def test_candidate_policy_overlays_and_reports_file_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", sources=SOURCES)
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text("environments:\n  production:\n    verification:\n      failure_limit: 1\n")
    _set, policy = load_policy(config=config, service="shop", environment="production", candidate=candidate)
    assert policy.verification.failure_limit == 1
    assert [c.name for c in policy.checks] == ["healthz", "errors", "p99"]  # kept from the configured file
    assert policy.verification.baseline_window == 1800

    candidate.write_text("environments:\n  production:\n    verification:\n      failure_limt: 1\n")
    with pytest.raises(ConfigError) as info:
        load_policy(config=config, service="shop", environment="production", candidate=candidate)
    assert str(info.value.problems[0]).startswith(f"{candidate}:4:7:")

    candidate.write_text("service: cart\n")
    with pytest.raises(ConfigError, match="this candidate is for service 'cart', not 'shop'"):
        load_policy(config=config, service="shop", environment="production", candidate=candidate)


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", sources=SOURCES)
    with pytest.raises(ConfigError, match="no policy for shop/staging; known: shop/production"):
        load_policy(config=config, service="shop", environment="staging")


def test_progress_bar_draws_on_a_terminal_and_clears_itself() -> None:
    stream = io.StringIO()
    bar = Progress(what="replaying 4 deploys", stream=stream, force=True)
    bar(1, 4)
    bar(4, 4)
    text = stream.getvalue()
    assert "\rreplaying 4 deploys [#######.......................] 1/4" in text
    assert "[##############################] 4/4" in text
    assert text.endswith("\r")  # the line is blanked at the end
    quiet = io.StringIO()
    Progress(what="x", stream=quiet)(1, 1)  # a StringIO is no terminal
    assert quiet.getvalue() == ""


def test_a_deploy_superseded_inside_its_window_is_not_replayed(tmp_path: Path) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    from watchdog.backtest.deploys import PastDeploy
    from watchdog.backtest.run import prepare_all, replay

    config = write_config(tmp_path / "config", sources=SOURCES)
    _set, policy = load_policy(config=config, service="shop", environment="production")
    at = datetime(2026, 11, 1, 12, tzinfo=UTC)
    deploys = [PastDeploy("1.0.0", at, "1.0.0"), PastDeploy("1.0.1", at + timedelta(seconds=240), "1.0.1")]
    # Both are in the future of `now`: the second is not over yet, the first was cut short by it.
    prepared = asyncio.run(
        prepare_all(deploys, policy=policy, sources={}, service="shop", environment="production", now=at)
    )
    first, second = replay(prepared, policy)
    assert first.verdict is None
    assert first.why_not == "superseded by 1.0.1 240 s after the deploy, inside its 600 s window"
    assert second.why_not == "its verification window is not over yet"
