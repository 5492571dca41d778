"""The live view's lines: readable at INFO for a handful of verifications, held to DEBUG for a fleet."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from watchdog.analysis.models import Judgement, Outcome
from watchdog.engine import progress


def _line(k: int) -> None:
    v: Any = SimpleNamespace(kind="deploy", version="1.1.0", interval_s=10.0)
    d: Any = SimpleNamespace(id="d1", service="checkout", environment="prod")
    j = Judgement(check="healthz", k=k, t=k * 10.0, outcome=Outcome.PASS, reason="", observed=1.0)
    progress.log_progress(v=v, deployment=d, k=k, total=6, judgements=[j])


def test_a_minute_holds_at_most_its_budget_of_info_lines_and_says_how_many_it_held(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr("watchdog.engine.progress.time.monotonic", lambda: now[0])
    monkeypatch.setattr(progress, "_budget", progress._Budget())
    with caplog.at_level(logging.DEBUG, logger="watchdog.progress"):
        for k in range(progress.LINES_PER_MINUTE + 5):
            _line(k % 6)
        levels = [r.levelno for r in caplog.records]
        assert levels.count(logging.INFO) == progress.LINES_PER_MINUTE
        assert levels.count(logging.DEBUG) == 5
        assert "checkout/prod 1.1.0" in caplog.records[0].getMessage()
        caplog.clear()
        now[0] += progress.MINUTE_S
        _line(1)
    summary, line = caplog.records
    assert summary.levelno == logging.INFO and summary.getMessage().startswith("5 sample lines")
    assert line.levelno == logging.INFO  # a new minute, a new budget


def test_held_lines_are_not_even_formatted_when_debug_is_off(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "_budget", progress._Budget())
    monkeypatch.setattr(progress, "LINES_PER_MINUTE", 1)
    with caplog.at_level(logging.INFO, logger="watchdog.progress"):
        _line(1)
        _line(2)
    assert [r.getMessage().split(" [")[0] for r in caplog.records] == ["checkout/prod 1.1.0"]
