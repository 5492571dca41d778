"""PolicyHolder keeps the last good set when a file turns invalid, and reloads only on a change."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from watchdog.errors import ConfigError
from watchdog.policy.reload import PolicyHolder


def test_invalid_edit_keeps_the_last_good_set(config_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = PolicyHolder(config_dir)
    good = holder.current
    demo = config_dir / "services" / "demo.yaml"
    demo.write_text(demo.read_text().replace("failure_limit: 2", "falure_limit: 2"))
    with caplog.at_level(logging.ERROR, logger="watchdog.policy"):
        problems = holder.reload()
    assert [Path(p.path).name for p in problems] == ["demo.yaml"]
    assert "falure_limit" in problems[0].message
    assert holder.current is good
    assert any("falure_limit" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


def test_valid_edit_is_taken(config_dir: Path) -> None:
    holder = PolicyHolder(config_dir)
    demo = config_dir / "services" / "demo.yaml"
    demo.write_text(demo.read_text().replace("failure_limit: 2", "failure_limit: 4"))
    assert holder.reload() == []
    policy = holder.current.policy("demo", "local")
    assert policy is not None and policy.verification.failure_limit == 4


def test_reload_if_changed_notices_edits_new_and_removed_files(config_dir: Path) -> None:
    holder = PolicyHolder(config_dir)
    first = holder.current
    assert holder.reload_if_changed() == []
    assert holder.current is first  # nothing changed: nothing loaded

    (config_dir / "services" / "cart.yaml").write_text(
        "service: cart\nenvironments:\n  staging: {target: script}\n"
    )
    assert holder.reload_if_changed() == []
    assert "cart" in holder.current.services

    (config_dir / "services" / "cart.yaml").unlink()
    assert holder.reload_if_changed() == []
    assert "cart" not in holder.current.services


def test_a_broken_file_is_reported_once_then_recovered(config_dir: Path) -> None:
    holder = PolicyHolder(config_dir)
    good = holder.current
    demo = config_dir / "services" / "demo.yaml"
    original = demo.read_text()
    demo.write_text(original + "bogus: 1\n")
    assert len(holder.reload_if_changed()) == 1
    assert holder.reload_if_changed() == []  # unchanged since the failed try
    assert holder.current is good
    demo.write_text(original + "# fixed\n")
    assert holder.reload_if_changed() == []
    assert holder.current is not good


def test_invalid_at_start_raises(config_dir: Path) -> None:
    (config_dir / "watchdog.yaml").write_text("sources: [1, 2]\n")
    with pytest.raises(ConfigError):
        PolicyHolder(config_dir)
