"""Builds the named deploy targets of `config/watchdog.yaml`: a literal table from `type` to adapter class.

An unknown type fails loudly with the known ones listed; nothing falls back to a default target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from watchdog.errors import ConfigError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.connections import DaemonConfig
from watchdog.targets.argocd import ArgoCDTarget
from watchdog.targets.base import Target
from watchdog.targets.command import CommandTarget
from watchdog.targets.helm import HelmTarget
from watchdog.targets.kubernetes import KubernetesTarget
from watchdog.targets.webhook import WebhookTarget


class TargetFactory(Protocol):
    def __call__(self, name: str, config: Any, *, plumbing: Plumbing = BARE) -> Target: ...


TARGET_TYPES: dict[str, TargetFactory] = {
    "argocd": ArgoCDTarget,
    "command": CommandTarget,
    "helm": HelmTarget,
    "kubernetes": KubernetesTarget,
    "webhook": WebhookTarget,
}


def build_target(name: str, config: Any, *, environ: Mapping[str, str] | None = None) -> Target:
    """One adapter; secrets are read at call time, so building needs no credentials and makes no request."""
    return _build(name, config, Plumbing(environ=environ))


def build_targets(daemon: DaemonConfig, *, environ: Mapping[str, str] | None = None) -> dict[str, Target]:
    plumbing = Plumbing(environ=environ)
    return {name: _build(name, config, plumbing) for name, config in daemon.targets.items()}


def _build(name: str, config: Any, plumbing: Plumbing) -> Target:
    kind = getattr(config, "type", None)
    factory = TARGET_TYPES.get(str(kind))
    if factory is None:
        raise ConfigError(f"unknown target type '{kind}'; known: {', '.join(sorted(TARGET_TYPES))}")
    return factory(name, config, plumbing=plumbing)
