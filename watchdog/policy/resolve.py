"""The inheritance rule: daemon `defaults` -> service `defaults` -> environment, merged key by key.

Mappings merge key by key; lists and scalars replace. Works on raw dicts, so an unset key never overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchdog.policy.connections import DaemonConfig
from watchdog.policy.service import EnvironmentPolicy, ServiceFile
from watchdog.policy.yamlfile import Layer


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: nested mappings merge, anything else (lists too) replaces."""
    out = dict(base)
    for key, value in override.items():
        below = out.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = deep_merge(below, value)
        else:
            out[key] = value
    return out


def merge_layers(layers: list[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    return merged


def raw_layers(*, daemon: Any, service: Any, environment: str) -> list[Any]:
    """The three raw mappings, lowest priority first (missing ones are skipped)."""
    out: list[Any] = []
    if isinstance(daemon, Mapping) and isinstance(daemon.get("defaults"), Mapping):
        out.append(daemon["defaults"])
    if isinstance(service, Mapping):
        if isinstance(service.get("defaults"), Mapping):
            out.append(service["defaults"])
        envs = service.get("environments")
        if isinstance(envs, Mapping) and isinstance(envs.get(environment), Mapping):
            out.append(envs[environment])
    return out


def located_layers(
    *, daemon_path: str, daemon: Any, service_path: str, service: Any, environment: str
) -> list[Layer]:
    """The same layers as `raw_layers`, each with the file it came from, for line numbers."""
    out: list[Layer] = []
    if isinstance(daemon, Mapping) and isinstance(daemon.get("defaults"), Mapping):
        out.append(Layer(daemon_path, daemon["defaults"]))
    for node in raw_layers(daemon=None, service=service, environment=environment):
        out.append(Layer(service_path, node))
    return out


def resolve_policy(*, daemon: Any, service: Any, environment: str) -> EnvironmentPolicy:
    """One environment's effective policy from plain daemon and service documents (raises ValidationError)."""
    return EnvironmentPolicy.model_validate(
        merge_layers(raw_layers(daemon=daemon, service=service, environment=environment))
    )


def explicit(model: DaemonConfig | ServiceFile) -> dict[str, Any]:
    """A model as the raw dict a file would hold: only the keys that were set, so merging stays key by key."""
    return model.model_dump(exclude_unset=True, by_alias=True)
