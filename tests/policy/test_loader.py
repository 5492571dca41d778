"""The shipped config loads; PolicySet hands out merged policies; a broken directory is described clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.conftest import SHIPPED
from watchdog.errors import ConfigError
from watchdog.policy.connections import DaemonConfig
from watchdog.policy.loader import PolicySet, load_config_dir
from watchdog.policy.service import ServiceFile


def test_shipped_config_passes() -> None:
    policy_set = load_config_dir(SHIPPED)
    assert sorted(policy_set.services) == ["checkout", "demo", "payments"]
    summary = policy_set.summary()
    assert (summary.services, summary.environments) == (3, 5)
    assert str(summary) == f"3 services, 5 environments, {summary.checks} checks"


def test_shipped_demo_is_the_documented_one() -> None:
    policy = load_config_dir(SHIPPED).policy("demo", "local")
    assert policy is not None
    assert policy.target == "demo-app"
    assert policy.notify == []
    assert (policy.verification.duration, policy.verification.interval) == (30.0, 5.0)
    assert (policy.rollback.verification.duration, policy.rollback.max_per_hour) == (20.0, 3)
    assert [c.name for c in policy.checks] == ["healthz", "errors"]


def test_policy_and_environments_api() -> None:
    policy_set = load_config_dir(SHIPPED)
    assert policy_set.environments("checkout") == ["staging", "production"]
    assert policy_set.environments("nope") == []
    assert policy_set.policy("checkout", "qa") is None
    assert policy_set.policy("nope", "staging") is None
    production = policy_set.policy("checkout", "production")
    assert production is not None
    assert production.require_verified_in == "staging"
    assert production is policy_set.policy("checkout", "production")  # merged once, then cached


def test_daemon_file_is_read() -> None:
    daemon = load_config_dir(SHIPPED).daemon
    assert {"prometheus", "datadog", "sentry", "app-metrics", "demo-metrics"} <= set(daemon.sources)
    assert {"k8s-staging", "k8s-prod", "helm-prod", "argocd-prod", "gha", "script", "demo-app"} <= set(
        daemon.targets
    )
    assert set(daemon.notifiers) == {"slack-sre", "dd-events"}


def test_policy_set_from_models_merges_like_files() -> None:
    daemon = DaemonConfig.model_validate({"defaults": {"notify": ["ops"], "verification": {"warmup": "10s"}}})
    svc = ServiceFile.model_validate(
        {
            "service": "cart",
            "defaults": {"verification": {"duration": "5m"}},
            "environments": {"staging": {"verification": {"interval": "15s"}}},
        }
    )
    policy = PolicySet(daemon=daemon, services={"cart": svc}).policy("cart", "staging")
    assert policy is not None
    assert policy.notify == ["ops"]
    assert (policy.verification.duration, policy.verification.interval, policy.verification.warmup) == (
        300.0,
        15.0,
        10.0,
    )
    assert policy.verification.failure_limit == 2  # the model's default where no layer says anything


def test_missing_daemon_file_is_a_problem(config_dir: Path) -> None:
    (config_dir / "watchdog.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_config_dir(config_dir)
    messages = [str(p) for p in caught.value.problems]
    assert any(
        m.startswith(f"{config_dir / 'watchdog.yaml'}:1:1: watchdog.yaml is missing") for m in messages
    )


def test_empty_services_dir_is_a_problem(config_dir: Path) -> None:
    for file in (config_dir / "services").iterdir():
        file.unlink()
    with pytest.raises(ConfigError) as caught:
        load_config_dir(config_dir)
    [problem] = caught.value.problems
    assert problem.path == str(config_dir / "services")
    assert "no service policies" in problem.message


def test_missing_directory_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(tmp_path / "absent")
    assert "no such config directory" in str(caught.value)


def test_environment_with_nothing_under_it_inherits_the_defaults(config_dir: Path) -> None:
    (config_dir / "services" / "bare.yaml").write_text(
        "service: bare\ndefaults:\n  target: script\n  notify: [slack-sre]\nenvironments:\n  staging:\n"
    )
    policy = load_config_dir(config_dir).policy("bare", "staging")
    assert policy is not None
    assert (policy.target, policy.notify) == ("script", ["slack-sre"])


def test_yml_extension_is_read_too(config_dir: Path) -> None:
    (config_dir / "services" / "cart.yml").write_text(
        "service: cart\nenvironments:\n  staging: {target: script}\n"
    )
    assert "cart" in load_config_dir(config_dir).services
