"""The labelled scenario corpus through the real command: every verdict matches its `expect`.

Streak scenarios also pin the sample that decided them (`# decided_after_s: N` in the file).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"
FILES = sorted(p for p in SCENARIOS.iterdir() if p.suffix in {".yaml", ".json"})
_DECIDED = re.compile(r"^# decided_after_s: ([0-9.]+)$", re.MULTILINE)

# The streak rules, spelled out here as well as in the files so a reader sees them at a glance.
STREAKS = {
    "sustained-breach-fails-at-limit": 210.0,  # fails from 180 s: the 2nd judged failing sample
    "inconclusive-inside-streak-keeps-it": 240.0,  # fail 180, no data 210, fail 240
    "failure-limit-1": 300.0,
    "failure-limit-3": 360.0,
    "breach-right-after-warmup-fails": 90.0,
    "latency-shift-mann-whitney": 150.0,  # sequential evidence crosses at the 3rd judged sample, no streak
    "late-failure-at-last-sample": 600.0,
}


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "watchdog", "simulate", "--check-expect", *map(str, FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == len(FILES)
    return {str(r["name"]): r for r in lines}


def test_corpus_is_big_enough() -> None:
    assert len(FILES) >= 40
    assert len([p for p in FILES if p.name.startswith("real-")]) >= 6


def test_every_file_decides_where_it_says(results: dict[str, dict[str, object]]) -> None:
    pinned = 0
    for path in FILES:
        match = _DECIDED.search(path.read_text())
        if match is None:
            continue
        name = path.stem
        assert results[name]["decided_after_s"] == float(match.group(1)), name
        pinned += 1
    assert pinned >= len(STREAKS)


@pytest.mark.parametrize(("name", "after"), sorted(STREAKS.items()))
def test_streaks_decide_at_the_limit(results: dict[str, dict[str, object]], name: str, after: float) -> None:
    assert (results[name]["verdict"], results[name]["decided_after_s"]) == ("failed", after)


def test_actions_follow_the_policy(results: dict[str, dict[str, object]]) -> None:
    assert results["no-data-inconclusive-alert"]["action"] == "alert"
    assert results["on-inconclusive-rollback"]["action"] == "rollback"
    assert results["on-failure-alert"]["action"] == "alert"
    assert results["on-failure-none-dry-run"]["action"] == "none"
    assert results["warmup-spike-ignored"]["action"] == "none"
    assert results["two-checks-one-fails"]["failed_checks"] == ["errors"]
