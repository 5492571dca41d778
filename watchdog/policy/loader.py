"""Loads a config directory (watchdog.yaml + services/*.yaml) into a PolicySet, or every problem found.

All problems are collected, each at file:line:col; `PolicySet.policy` hands out merged, validated policies.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from watchdog.errors import ConfigError, Problem
from watchdog.policy.connections import DaemonConfig
from watchdog.policy.hygiene import scan_secrets
from watchdog.policy.messages import problems_from, real_keys
from watchdog.policy.policyset import PolicySet, Stamps, Summary
from watchdog.policy.resolve import located_layers, merge_layers, raw_layers
from watchdog.policy.rules import Known, check_policy, source_placeholders, target_placeholders
from watchdog.policy.service import EnvironmentPolicy, ServiceFile
from watchdog.policy.yamlfile import Layer, YamlDoc, locate, parse_yaml, plain

DAEMON_FILE = "watchdog.yaml"
SERVICES_DIR = "services"

__all__ = ["PolicySet", "Summary", "config_files", "file_stamps", "load_config_dir", "service_files"]


def load_config_dir(path: Path) -> PolicySet:
    """The PolicySet of a config directory; raises ConfigError carrying every problem found."""
    loading = _Loading(Path(path))
    policy_set = loading.run()
    if loading.problems or policy_set is None:
        raise ConfigError(_tidy(loading.problems))
    return policy_set


def file_stamps(path: Path) -> Stamps:
    """mtime and size of every file a PolicySet is read from: a cheap way to notice a change."""
    out: Stamps = {}
    for file in config_files(path):
        try:
            st = file.stat()
        except OSError:
            continue
        out[str(file)] = (st.st_mtime_ns, st.st_size)
    return out


def config_files(root: Path) -> list[Path]:
    """The files a config directory is read from (the daemon file first), whether they exist or not."""
    return [Path(root) / DAEMON_FILE, *service_files(Path(root) / SERVICES_DIR)]


def service_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _tidy(problems: list[Problem]) -> list[Problem]:
    """One problem per place (a shared default breaks every environment alike), sorted by file and line.

    The first report of a place wins: the file-level one, worded with the most context.
    """
    # A literal secret is also an unknown key to the models: the secret message says more.
    secrets = [p for p in problems if "secrets are never committed" in p.message]
    seen: set[tuple[str, int, int]] = set()
    out: list[Problem] = []
    for p in [*secrets, *problems]:
        if (p.path, p.line, p.col) in seen:
            continue
        seen.add((p.path, p.line, p.col))
        out.append(p)
    return sorted(out, key=lambda p: (p.path, p.line, p.col))


class _Loading:
    """One pass over a config directory, collecting problems as it goes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.daemon_doc: YamlDoc | None = None
        self.daemon_plain: dict[str, Any] = {}

    def run(self) -> PolicySet | None:
        if not self.root.is_dir():
            self.problems.append(Problem(str(self.root), 1, 1, "no such config directory"))
            return None
        stamps = file_stamps(self.root)
        daemon = self._daemon()
        known_sources, known_targets, known_notifiers = (
            _names(self.daemon_plain.get(k)) for k in ("sources", "targets", "notifiers")
        )
        services: dict[str, ServiceFile] = {}
        files = service_files(self.root / SERVICES_DIR)
        if not files:
            where = str(self.root / SERVICES_DIR)
            message = "no service policies: add one file per service, such as services/checkout.yaml"
            self.problems.append(Problem(where, 1, 1, message))
        for file in files:
            doc = parse_yaml(file)
            self.problems += doc.problems
            if doc.data is None:
                continue
            self.problems += scan_secrets(doc)
            raw = _normalised(plain(doc.data))
            service = self._service(doc, raw, stem=file.stem)
            envs = list(raw.get("environments") or {}) if isinstance(raw.get("environments"), dict) else []
            known = Known(known_sources, known_targets, known_notifiers, envs, _kinds(self.daemon_plain))
            if service is not None:
                services[service.service] = service
            if daemon is not None:
                # Even when the file as a whole is invalid, each environment that merges cleanly still
                # gets the rules, so one run shows every problem.
                self._environments(doc, raw, known=known)
        if daemon is None:
            return None
        return PolicySet(daemon=daemon, services=services, root=self.root, stamps=stamps)

    def _daemon(self) -> DaemonConfig | None:
        file = self.root / DAEMON_FILE
        if not file.is_file():
            message = f"{DAEMON_FILE} is missing: it names the sources, targets and notifiers policies use"
            self.problems.append(Problem(str(file), 1, 1, message))
            return None
        doc = parse_yaml(file)
        self.problems += doc.problems
        if doc.data is None:
            return None
        self.daemon_doc = doc
        self.problems += scan_secrets(doc)
        self.daemon_plain = plain(doc.data)
        layers = [Layer(doc.path, doc.data)]
        try:
            daemon = DaemonConfig.model_validate(self.daemon_plain)
        except ValidationError as exc:
            self.problems += problems_from(exc, root=DaemonConfig, layers=layers, data=self.daemon_plain)
            return None
        for name, target in self.daemon_plain.get("targets", {}).items():
            for loc, message in target_placeholders(target, ("targets", name)):
                self.problems.append(Problem(*locate(layers, loc), f"target '{name}': {message}"))
        for name, source in (self.daemon_plain.get("sources") or {}).items():
            for loc, message in source_placeholders(source, ("sources", name)):
                self.problems.append(Problem(*locate(layers, loc), f"source '{name}': {message}"))
        return daemon

    def _service(self, doc: YamlDoc, raw: dict[str, Any], *, stem: str) -> ServiceFile | None:
        layers = [Layer(doc.path, doc.data)]
        try:
            service = ServiceFile.model_validate(raw)
        except ValidationError as exc:
            self.problems += problems_from(exc, root=ServiceFile, layers=layers, data=raw)
            return None
        if service.service != stem:
            message = (
                f"service '{service.service}' does not match the file name {stem}.yaml: "
                f"name the file {service.service}.yaml or write service: {stem}"
            )
            self.problems.append(Problem(*locate(layers, ("service",)), message))
        if not service.environments:
            message = "no environments: add at least one under environments: (such as staging)"
            self.problems.append(Problem(*locate(layers, ("environments",)), message))
        return service

    def _environments(self, doc: YamlDoc, raw: dict[str, Any], *, known: Known) -> None:
        daemon_path = self.daemon_doc.path if self.daemon_doc else ""
        daemon_data = self.daemon_doc.data if self.daemon_doc else None
        for env in known.environments:
            layers = located_layers(
                daemon_path=daemon_path,
                daemon=daemon_data,
                service_path=doc.path,
                service=doc.data,
                environment=env,
            )
            merged = merge_layers(raw_layers(daemon=self.daemon_plain, service=raw, environment=env))
            try:
                policy: EnvironmentPolicy | None = EnvironmentPolicy.model_validate(merged)
            except ValidationError as exc:
                self.problems += problems_from(exc, root=EnvironmentPolicy, layers=layers, data=merged)
                policy = _without_bad_keys(merged, exc)
            if policy is None:
                continue
            for loc, message in check_policy(policy, known=known, environment=env):
                self.problems.append(Problem(*locate(layers, loc), message))


def _without_bad_keys(merged: dict[str, Any], exc: ValidationError) -> EnvironmentPolicy | None:
    """The policy with each offending mapping key dropped, so the rules can still look at the rest.

    None when an error sits inside a list: dropping a list item would shift the places of the others.
    """
    data = copy.deepcopy(merged)
    for _ in range(3):
        for error in exc.errors():
            if any(isinstance(part, int) for part in error["loc"]):
                return None
            loc = [str(part) for part in real_keys(data, error["loc"])]
            parent: Any = data
            for part in loc[:-1]:
                parent = parent.get(part) if isinstance(parent, dict) else None
            if isinstance(parent, dict) and loc:
                parent.pop(loc[-1], None)
        try:
            return EnvironmentPolicy.model_validate(data)
        except ValidationError as again:
            exc = again
    return None


def _kinds(daemon: dict[str, Any]) -> dict[str, str]:
    sources = daemon.get("sources")
    if not isinstance(sources, dict):
        return {}
    return {str(k): str(v.get("type")) for k, v in sources.items() if isinstance(v, dict)}


def _names(section: Any) -> list[str]:
    return [str(k) for k in section] if isinstance(section, dict) else []


def _normalised(raw: Any) -> dict[str, Any]:
    """`staging:` with nothing under it means "inherit everything", as `staging: {}` does."""
    if isinstance(raw, dict) and isinstance(raw.get("environments"), dict):
        envs = raw["environments"]
        raw["environments"] = {k: ({} if v is None else v) for k, v in envs.items()}
    return raw if isinstance(raw, dict) else {}
