"""Which configured sources and notifiers lack their secret in this environment, and who depends on them.

`watchdog check` names them; the daemon refuses to start when a policy says `on_missing_source: fail_start`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from watchdog.errors import ConfigError
from watchdog.policy.connections import DaemonConfig
from watchdog.policy.policyset import PolicySet
from watchdog.policy.secrets import resolve_secret


@dataclass(frozen=True)
class Missing:
    kind: str  # "source" | "notifier"
    name: str
    reason: str


def missing_secret(config: BaseModel, *, what: str, environ: Mapping[str, str]) -> str | None:
    """The first `*_env`/`*_file` reference of `config` that cannot be read now, as resolving it would say."""
    fields = type(config).model_fields
    for field in fields:
        if not field.endswith("_env"):
            continue
        stem = field.removesuffix("_env")
        env = getattr(config, field)
        file = getattr(config, f"{stem}_file", None) if f"{stem}_file" in fields else None
        try:
            resolve_secret(env=env, file=file, what=what, environ=environ)
        except ConfigError as exc:
            return str(exc)
    return None


def missing_connections(daemon: DaemonConfig, *, environ: Mapping[str, str]) -> list[Missing]:
    """Sources that would run as inconclusive stand-ins and notifiers that would be left out, here."""
    out: list[Missing] = []
    for kind, entries in (("source", daemon.sources), ("notifier", daemon.notifiers)):
        for name, config in entries.items():
            reason = missing_secret(config, what=f"{kind} {name}", environ=environ)
            if reason is not None:
                out.append(Missing(kind=kind, name=name, reason=reason))
    return out


def checks_on(policy_set: PolicySet, source: str) -> list[str]:
    """`service/environment check` for every check that samples from `source`."""
    out: list[str] = []
    for service in sorted(policy_set.services):
        for environment in policy_set.environments(service):
            policy = policy_set.policy(service, environment)
            for check in policy.checks if policy else []:
                if check.type != "http" and check.source == source:
                    out.append(f"{service}/{environment} {check.name}")
    return out


def fail_start_problems(policy_set: PolicySet, degraded: Mapping[str, str]) -> list[str]:
    """One line per environment with `on_missing_source: fail_start` whose checks need a degraded source."""
    out: list[str] = []
    for service in sorted(policy_set.services):
        for environment in policy_set.environments(service):
            policy = policy_set.policy(service, environment)
            if policy is None or policy.on_missing_source != "fail_start":
                continue
            needed = {c.source for c in policy.checks if c.type != "http" and c.source}
            for name in sorted(needed & set(degraded)):
                out.append(
                    f"{service}/{environment} has on_missing_source: fail_start and its checks need "
                    f"source {name}, which is unavailable: {degraded[name]}"
                )
    return out
