"""A valid configuration in memory: the daemon file, the service files, and merged per-environment policies.

Built by `loader.load_config_dir`, or directly from models (tests, the engine); merging is cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from watchdog.policy.connections import DaemonConfig
from watchdog.policy.interned import shared_policy
from watchdog.policy.resolve import explicit, merge_layers, raw_layers
from watchdog.policy.service import EnvironmentPolicy, ServiceFile

Stamps = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Summary:
    services: int
    environments: int
    checks: int

    def __str__(self) -> str:
        return f"{self.services} services, {self.environments} environments, {self.checks} checks"


class PolicySet:
    """A valid configuration: the daemon file, every service file, and each environment's merged policy."""

    def __init__(
        self,
        *,
        daemon: DaemonConfig,
        services: dict[str, ServiceFile],
        root: Path | None = None,
        stamps: Stamps | None = None,
    ) -> None:
        self.daemon = daemon
        self.services = services
        self.root = root
        self.stamps: Stamps = stamps or {}
        self._daemon_raw = explicit(daemon)
        self._raw = {name: explicit(svc) for name, svc in services.items()}
        self._cache: dict[tuple[str, str], EnvironmentPolicy] = {}

    def policy(self, service: str, environment: str) -> EnvironmentPolicy | None:
        """The merged policy of one environment (daemon defaults -> service defaults -> environment)."""
        key = (service, environment)
        if key not in self._cache:
            svc = self.services.get(service)
            if svc is None or environment not in svc.environments:
                return None
            layers = raw_layers(daemon=self._daemon_raw, service=self._raw[service], environment=environment)
            self._cache[key] = shared_policy(merge_layers(layers))
        return self._cache[key]

    def environments(self, service: str) -> list[str]:
        svc = self.services.get(service)
        return list(svc.environments) if svc else []

    def summary(self) -> Summary:
        envs = [(s, e) for s in self.services for e in self.environments(s)]
        checks = sum(len(p.checks) for s, e in envs if (p := self.policy(s, e)) is not None)
        return Summary(services=len(self.services), environments=len(envs), checks=checks)
