"""Which checks verify a restored version: all of them by default, the http probes, or a named list.

Names are validated against the environment's checks with file:line messages, like every other reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdog.errors import ConfigError
from watchdog.policy.loader import load_config_dir
from watchdog.policy.rollback_checks import rollback_checks, rollback_verification_policy
from watchdog.policy.service import EnvironmentPolicy

CHECKS = [
    {"name": "healthz", "type": "http", "url": "http://app/healthz"},
    {"name": "errors", "type": "error_rate", "source": "prom", "errors": "e", "requests": "r", "max": 0.05},
    {"name": "p99", "type": "latency", "source": "prom", "query": "q", "max": 0.5},
]


def policy(checks: object = None) -> EnvironmentPolicy:
    rollback: dict[str, dict[str, object]] = {"verification": {"duration": "1m", "interval": "10s"}}
    if checks is not None:
        rollback["verification"] = {**rollback["verification"], "checks": checks}
    return EnvironmentPolicy.model_validate({"checks": CHECKS, "rollback": rollback})


def names(p: EnvironmentPolicy) -> list[str]:
    return [c.name for c in rollback_checks(p)]


def test_all_checks_by_default() -> None:
    assert names(policy()) == ["healthz", "errors", "p99"]
    derived = rollback_verification_policy(policy())
    assert derived.verification.duration == 60 and derived.verification.interval == 10
    assert derived.on_failure == "alert" and [c.name for c in derived.checks] == ["healthz", "errors", "p99"]


def test_http_only_names_and_whole_checks() -> None:
    assert names(policy("http")) == ["healthz"]
    assert names(policy(["errors"])) == ["errors"]
    extra = {"name": "ready", "type": "http", "url": "http://app/ready"}
    assert names(policy(["healthz", extra])) == ["healthz", "ready"]


def test_a_stored_null_reads_as_the_old_http_default() -> None:
    assert names(policy(None)) == ["healthz", "errors", "p99"]
    stored = EnvironmentPolicy.model_validate(
        {"checks": CHECKS, "rollback": {"verification": {"checks": None}}}
    )
    assert names(stored) == ["healthz"]


def test_unknown_name_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "services").mkdir()
    (tmp_path / "watchdog.yaml").write_text("sources:\n  prom: {type: prometheus, url: 'http://p:9090'}\n")
    (tmp_path / "services" / "shop.yaml").write_text(
        "service: shop\n"
        "environments:\n"
        "  prod:\n"
        "    on_failure: alert\n"
        "    rollback:\n"
        "      verification:\n"
        "        checks: [healthz, errros]\n"
        "    checks:\n"
        "      - {name: healthz, type: http, url: 'http://app/healthz'}\n"
        "      - {name: errors, type: error_rate, source: prom, errors: e, requests: r, max: 0.05}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config_dir(tmp_path)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "shop.yaml:7:" in text
    assert "unknown check 'errros'; did you mean 'errors'?" in text
