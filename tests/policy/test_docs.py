"""The generated tables in docs/configuration.md are what docs.py renders from the code now."""

from __future__ import annotations

from pathlib import Path

from tests.policy.conftest import REPO
from watchdog.policy.docs import BEGIN, END, generated_part, model_table, render, write
from watchdog.policy.service import Verification
from watchdog.settings import Settings


def test_configuration_reference_is_current() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    assert generated_part(text) == render(), (
        "run: python -m watchdog.policy.docs --write docs/configuration.md"
    )


def test_tables_show_key_type_default_and_meaning() -> None:
    table = model_table(Verification).splitlines()
    assert table[0] == "| key | type | default | meaning |"
    assert "| `duration` | duration | `10m` | the verification window after the deploy |" in table
    assert any(row.startswith("| `failure_limit` | integer | `2` |") for row in table)


def test_settings_are_listed_by_environment_variable() -> None:
    table = model_table(Settings, settings=True)
    assert "`WATCHDOG_DATABASE_URL`" in table
    assert "`WATCHDOG_WEBHOOK_SECRET` | secret (optional) | none |" in table


def test_every_check_and_connection_type_is_documented() -> None:
    text = render()
    for name in (
        "HttpCheck",
        "ErrorRateCheck",
        "LatencyCheck",
        "MetricCheck",
        "PrometheusSourceConfig",
        "ScrapeSourceConfig",
        "CommandTargetConfig",
        "SlackNotifierConfig",
    ):
        assert f"#### {name}" in text


def test_write_replaces_only_the_generated_part(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Intro\n\nhand-written\n\n{BEGIN}\nstale\n{END}\n\n## After\n")
    write(doc)
    text = doc.read_text()
    assert text.startswith("# Intro\n\nhand-written\n\n")
    assert text.endswith("\n## After\n")
    assert "stale" not in text
    assert generated_part(text) == render()
