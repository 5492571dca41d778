"""The policy a backtest tries: the configured one, or a candidate file laid over it (`--policy FILE`).

A candidate is a service file, or part of one (only what changes); its keys replace the configured ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from watchdog.errors import ConfigError, Problem
from watchdog.policy.loader import load_config_dir
from watchdog.policy.messages import problems_from
from watchdog.policy.policyset import PolicySet
from watchdog.policy.resolve import deep_merge, explicit
from watchdog.policy.service import EnvironmentPolicy, ServiceFile
from watchdog.policy.yamlfile import Layer, parse_yaml, plain


def load_policy(
    *, config: Path, service: str, environment: str, candidate: Path | None = None
) -> tuple[PolicySet, EnvironmentPolicy]:
    """The config directory and the policy to replay; ConfigError names file:line when either is bad."""
    policy_set = load_config_dir(config)
    if candidate is not None:
        policy_set = _overlay(policy_set, service=service, path=candidate)
    policy = policy_set.policy(service, environment)
    if policy is None:
        known = ", ".join(f"{s}/{e}" for s in policy_set.services for e in policy_set.environments(s))
        raise ConfigError(
            [Problem(str(config), 0, 0, f"no policy for {service}/{environment}; known: {known or 'none'}")]
        )
    return policy_set, policy


def _overlay(policy_set: PolicySet, *, service: str, path: Path) -> PolicySet:
    doc = parse_yaml(path)
    if doc.problems:
        raise ConfigError(list(doc.problems))
    raw: Any = plain(doc.data) if doc.data is not None else {}
    if not isinstance(raw, dict):
        raise ConfigError([Problem(str(path), 1, 1, "a candidate policy is a mapping, like a service file")])
    if raw.get("service", service) != service:
        message = f"this candidate is for service {raw['service']!r}, not {service!r}"
        raise ConfigError([Problem(str(path), 1, 1, message)])
    current = policy_set.services.get(service)
    base = explicit(current) if current is not None else {"service": service}
    merged = deep_merge(base, {**raw, "service": service})
    try:
        candidate = ServiceFile.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(
            problems_from(exc, root=ServiceFile, layers=[Layer(doc.path, doc.data)], data=merged)
        ) from None
    return PolicySet(daemon=policy_set.daemon, services={**policy_set.services, service: candidate})
