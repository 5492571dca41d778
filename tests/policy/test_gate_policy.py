"""`gate.require` in a service file: defaults, key-by-key layering, and a typo refused with file:line.

What each item means at the gate is tests/engine/test_gate.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdog.errors import ConfigError
from watchdog.policy.loader import load_config_dir

SERVICE = """service: ledger
defaults:
  target: script
  gate: {require: {tests: false, changelog: true}}
environments:
  staging: {}
  production:
    require_verified_in: staging
    gate:
      require: {tests: true, lint: true}
"""


def test_environment_overrides_gate_items_key_by_key(config_dir: Path) -> None:
    (config_dir / "services" / "ledger.yaml").write_text(SERVICE)
    policies = load_config_dir(config_dir)
    staging, production = policies.policy("ledger", "staging"), policies.policy("ledger", "production")
    assert staging is not None and production is not None
    assert staging.gate.require.model_dump() == {
        "verified": True,
        "tests": False,
        "lint": False,
        "changelog": True,
        "migration": True,
        "rollback_plan": True,
    }
    # production keeps the service default's changelog and adds its own two.
    assert (production.gate.require.tests, production.gate.require.lint) == (True, True)
    assert production.gate.require.changelog is True


def test_an_unknown_item_is_refused_with_its_line(config_dir: Path) -> None:
    path = config_dir / "services" / "ledger.yaml"
    path.write_text(SERVICE.replace("lint: true", "lnt: true"))
    with pytest.raises(ConfigError) as caught:
        load_config_dir(config_dir)
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith(f"{path}:10:30: unknown key 'lnt' in gate.require") for m in messages), messages
