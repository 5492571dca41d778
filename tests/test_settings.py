"""Settings are grouped by concern in code, yet read the same flat WATCHDOG_* variables, files and overrides.

The variable names are a contract with deployments (Helm chart, docs); the grouping must not move them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdog.policy.docs import model_table
from watchdog.settings import GROUPS, Settings, load_settings


def test_each_group_reads_its_flat_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WATCHDOG_PORT", "18080")
    monkeypatch.setenv("WATCHDOG_TICK_SECONDS", "0.5")
    monkeypatch.setenv("WATCHDOG_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("WATCHDOG_LOG_FORMAT", "json")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "WATCHDOG_ADMIN_TOKEN").write_text("admin-token-from-a-file")
    monkeypatch.setenv("WATCHDOG_SECRETS_DIR", str(secrets))
    settings = load_settings(data_dir=tmp_path)
    assert settings.listener.port == 18080 and settings.engine.tick_seconds == 0.5
    assert settings.intake.max_body_bytes == 2048 and settings.telemetry.log_format == "json"
    assert settings.secrets.admin_token is not None
    assert settings.secrets.admin_token.get_secret_value() == "admin-token-from-a-file"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'watchdog.db'}"


def test_flat_overrides_go_to_their_group_and_replace_keeps_the_rest(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path, "instance_id": "a", "sample_jitter": 0})
    moved = settings.replace(config_dir=tmp_path / "c")
    assert (moved.files.config_dir, moved.files.data_dir) == (tmp_path / "c", tmp_path)
    assert (moved.engine.instance_id, moved.engine.sample_jitter) == ("a", 0)
    assert settings.files.config_dir == Path("config")


def test_every_field_has_a_description_and_keeps_its_variable_name() -> None:
    names = [name for model in GROUPS.values() for name in model.model_fields]
    assert len(names) == len(set(names))  # a flat name belongs to one group only
    undescribed = [n for m in GROUPS.values() for n, f in m.model_fields.items() if not f.description]
    assert undescribed == []
    table = model_table(Settings, settings=True)
    assert all(f"`WATCHDOG_{name.upper()}`" in table for name in names)
