"""When `watchdog wait` stops, with which exit code, and how its progress block draws on a terminal.

The daemon side of the same rules runs for real in tests/e2e/test_wait.py.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from watchdog.cli.wait import Progress, exit_code, progress_lines


def deployment(state: str, *, action: str | None = None, rollback: str | None = None) -> dict[str, Any]:
    return {
        "id": "d1",
        "service": "shop",
        "environment": "production",
        "version": "2.0.0",
        "state": state,
        "action": action,
        "rollback": {"state": rollback, "to_version": "1.0.0"} if rollback else None,
        "verification": {"samples_total": 4},
        "samples": [],
    }


@pytest.mark.parametrize(
    ("state", "action", "rollback", "code"),
    [
        ("pending", None, None, None),
        ("warming", None, None, None),
        ("verifying", None, None, None),
        ("passed", None, None, 0),
        ("promoted", None, None, 0),
        ("failed", "alert", None, 1),
        ("failed", "none", "dry_run", 1),
        ("failed", "rollback", None, None),  # the rollback is on its way: wait for it
        ("failed", "rollback", "refused", 1),  # a guard rail refused it: nothing more will happen
        ("rolling_back", "rollback", "intent", None),
        ("rolled_back", "rollback", "verified", 1),
        ("rollback_failed", "rollback", "verify_failed", 1),
        ("inconclusive", "alert", None, 2),
        ("inconclusive", "rollback", None, None),
        ("superseded", None, None, 2),
        ("cancelled", None, None, 2),
    ],
)
def test_exit_codes(state: str, action: str | None, rollback: str | None, code: int | None) -> None:
    assert exit_code(deployment(state, action=action, rollback=rollback)) == code


def sample(check: str, k: int, outcome: str, *, warmup: bool = False) -> dict[str, Any]:
    return {"check": check, "k": k, "outcome": outcome, "reason": f"{check} #{k}", "warmup": warmup}


def test_progress_redraws_in_place_on_a_terminal_and_appends_changes_otherwise() -> None:
    d = deployment("verifying")
    d["samples"] = [sample("healthz", 1, "pass", warmup=True), sample("errors", 1, "pass", warmup=True)]
    first = progress_lines(d)
    assert [line for _, line in first] == [
        "shop/production 2.0.0 (d1): verifying",
        "  healthz: 1/4 samples, 0 pass, 0 fail, 0 inconclusive; last warm-up: healthz #1",
        "  errors: 1/4 samples, 0 pass, 0 fail, 0 inconclusive; last warm-up: errors #1",
    ]
    d["samples"] += [sample("healthz", 2, "pass"), sample("errors", 2, "fail")]
    second = progress_lines(d)

    tty = io.StringIO()
    live = Progress(out=tty, tty=True)
    live.show(first)
    live.show(second)
    text = tty.getvalue()
    # The second frame starts by moving up over the three lines of the first, then clears each line.
    assert text.count("\x1b[2K") == 6 and text.count("\x1b[3F") == 1
    assert "  errors: 2/4 samples, 0 pass, 1 fail, 0 inconclusive; last fail: errors #2" in text

    plain = io.StringIO()
    log = Progress(out=plain, tty=False)
    log.show(first)
    log.show(second)
    log.show(second)  # nothing changed: nothing printed
    lines = plain.getvalue().splitlines()
    assert "\x1b" not in plain.getvalue()
    assert len(lines) == 5  # the header once, each check twice


def test_progress_follows_the_rollback() -> None:
    d = deployment("rolling_back", action="rollback", rollback="intent")
    assert progress_lines(d)[-1] == ("rollback", "  rollback: intent to 1.0.0")


def test_on_a_terminal_long_lines_are_cut_to_its_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # what shutil.get_terminal_size reads first
    tty = io.StringIO()
    Progress(out=tty, tty=True).show([("", "x" * 100)])
    assert tty.getvalue() == "\x1b[2K" + "x" * 39 + "\n"
