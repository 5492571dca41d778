"""The target registry: the design's example daemon file builds every adapter, and mistakes fail loudly.

Building makes no request and needs no secret: tokens are read when a rollback runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from watchdog.errors import ConfigError
from watchdog.policy.connections import DaemonConfig
from watchdog.targets.argocd import ArgoCDTarget
from watchdog.targets.base import Target
from watchdog.targets.command import CommandTarget
from watchdog.targets.helm import HelmTarget
from watchdog.targets.kubernetes import KubernetesTarget
from watchdog.targets.registry import TARGET_TYPES, build_target, build_targets
from watchdog.targets.webhook import WebhookTarget

EXAMPLE: dict[str, Any] = {
    "k8s-prod": {"type": "kubernetes", "namespace": "shop", "deployment": "checkout", "container": "app",
                 "timeout": "5m"},
    "helm-prod": {"type": "helm", "release": "checkout", "namespace": "shop", "timeout": "5m"},
    "argocd-prod": {"type": "argocd", "url": "https://argocd.internal", "application": "checkout",
                    "token_env": "ARGOCD_TOKEN"},
    "gha": {"type": "webhook",
            "url": "https://api.github.com/repos/acme/checkout/actions/workflows/deploy.yml/dispatches",
            "headers": {"Authorization": "Bearer ${GITHUB_TOKEN}"},
            "body": {"ref": "main", "inputs": {"version": "{{ version }}"}}},
    "script": {"type": "command", "timeout": "10m",
               "argv": ["./deploy.sh", "{{ service }}", "{{ environment }}", "{{ artifact }}"]},
}  # fmt: skip


def test_the_design_example_builds_every_adapter() -> None:
    targets = build_targets(DaemonConfig.model_validate({"targets": EXAMPLE}), environ={})
    kinds = {name: type(t) for name, t in targets.items()}
    assert kinds == {
        "k8s-prod": KubernetesTarget,
        "helm-prod": HelmTarget,
        "argocd-prod": ArgoCDTarget,
        "gha": WebhookTarget,
        "script": CommandTarget,
    }
    assert all(isinstance(t, Target) and t.name == name for name, t in targets.items())
    k8s = targets["k8s-prod"]
    assert isinstance(k8s, KubernetesTarget)
    assert k8s.config.timeout == 300.0


def test_unknown_type_lists_the_known_ones() -> None:
    class Odd:
        type = "ecs"

    with pytest.raises(ConfigError) as err:
        build_target("x", Odd())
    assert "unknown target type 'ecs'; known: argocd, command, helm, kubernetes, webhook" in str(err.value)
    assert sorted(TARGET_TYPES) == ["argocd", "command", "helm", "kubernetes", "webhook"]


def test_a_misspelt_placeholder_fails_at_build_time() -> None:
    bad = {"script": {"type": "command", "argv": ["./deploy.sh", "{{ artefact }}"]}}
    with pytest.raises(
        ConfigError, match=r"target script: unknown placeholder '\{\{ artefact \}\}'; known: artifact"
    ):
        build_targets(DaemonConfig.model_validate({"targets": bad}))
