"""A store without a schema is created, and the daemon says so once: on a first start that is expected,
after a lost database file it is the only sign that history and open verifications are gone."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from watchdog.engine.runtime import build_runtime
from watchdog.settings import Settings

WARNING = "held no schema; created an empty store"


def _settings(tmp_path: Path) -> Settings:
    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[2] / "config", config)  # the example config
    return Settings.model_validate({"data_dir": tmp_path / "data", "config_dir": config})


def _start(settings: Settings, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="watchdog.engine.runtime"):
        runtime = build_runtime(settings)
    runtime.store.close()
    return [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]


def test_an_empty_store_is_announced_once_and_again_when_its_file_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    first = _start(settings, caplog)
    assert len(first) == 1 and "sqlite:///" in first[0], first
    assert _start(settings, caplog) == []  # the same database again: nothing to say

    db_file = Path(settings.resolved_database_url.removeprefix("sqlite:///"))
    assert db_file.is_file()
    db_file.unlink()
    assert len(_start(settings, caplog)) == 1
