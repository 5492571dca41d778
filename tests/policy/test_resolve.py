"""The inheritance rule: daemon defaults -> service defaults -> environment, key by key."""

from __future__ import annotations

from pathlib import Path

from watchdog.policy.loader import load_config_dir
from watchdog.policy.resolve import deep_merge, resolve_policy


def test_mappings_merge_key_by_key() -> None:
    merged = deep_merge(
        {"verification": {"duration": "10m", "interval": "30s"}, "on_failure": "rollback"},
        {"verification": {"duration": "5m"}},
    )
    assert merged == {"verification": {"duration": "5m", "interval": "30s"}, "on_failure": "rollback"}


def test_lists_and_scalars_replace() -> None:
    merged = deep_merge({"notify": ["a", "b"], "target": "x"}, {"notify": ["c"], "target": "y"})
    assert merged == {"notify": ["c"], "target": "y"}


def test_merge_does_not_change_its_inputs() -> None:
    base = {"rollback": {"verification": {"duration": "2m"}}}
    deep_merge(base, {"rollback": {"verification": {"interval": "10s"}}})
    assert base == {"rollback": {"verification": {"duration": "2m"}}}


def test_three_layers_in_order() -> None:
    daemon = {"defaults": {"notify": ["ops"], "verification": {"warmup": "10s", "interval": "20s"}}}
    service = {
        "service": "cart",
        "defaults": {"verification": {"interval": "15s", "duration": "8m"}, "rollback": {"max_per_hour": 1}},
        "environments": {
            "production": {"verification": {"duration": "20m"}, "rollback": {"allow_major": True}}
        },
    }
    policy = resolve_policy(daemon=daemon, service=service, environment="production")
    v = policy.verification
    assert (v.warmup, v.interval, v.duration) == (10.0, 15.0, 1200.0)
    assert (policy.rollback.max_per_hour, policy.rollback.allow_major) == (1, True)
    assert policy.notify == ["ops"]


def test_shipped_checkout_staging_overrides_only_duration() -> None:
    policy_set = load_config_dir(Path(__file__).resolve().parents[2] / "config")
    staging = policy_set.policy("checkout", "staging")
    production = policy_set.policy("checkout", "production")
    assert staging is not None and production is not None
    assert staging.verification.duration == 300.0
    assert staging.verification.interval == production.verification.interval == 30.0
    assert staging.notify == ["slack-sre"]
    assert production.notify == ["slack-sre", "dd-events"]


def test_daemon_defaults_reach_every_service(config_dir: Path) -> None:
    text = (config_dir / "watchdog.yaml").read_text()
    (config_dir / "watchdog.yaml").write_text(
        text + "defaults:\n  dashboards: {Status: 'https://status.example'}\n"
    )
    policy_set = load_config_dir(config_dir)
    for service in policy_set.services:
        for env in policy_set.environments(service):
            policy = policy_set.policy(service, env)
            assert policy is not None
            assert policy.dashboards.get("Status") == "https://status.example"
