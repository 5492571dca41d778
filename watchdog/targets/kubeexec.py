"""Kubeconfig exec credential plugins (EKS, GKE, AKS): run as client-go runs them, cached, re-run on 401.

The client.authentication.k8s.io ExecCredential protocol v1 and v1beta1, with expiry; the token is a secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from watchdog.errors import ConfigError
from watchdog.redact import REDACTOR, redact

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
RUN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ExecConfig:
    """The `user.exec` stanza of a kubeconfig, checked; `cluster` is what provideClusterInfo passes on."""

    api_version: str
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    install_hint: str | None = None
    cluster_json: str | None = None  # JSON of spec.cluster when provideClusterInfo is true
    where: str = "kubeconfig"

    def exec_info(self) -> str:
        """KUBERNETES_EXEC_INFO: the ExecCredential the plugin is given (the daemon is never interactive)."""
        spec: dict[str, Any] = {"interactive": False}
        if self.cluster_json is not None:
            spec["cluster"] = json.loads(self.cluster_json)
        return json.dumps({"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec})


def parse_exec(section: Any, *, base: Path, cluster: Mapping[str, Any], where: str) -> ExecConfig:
    """Validates `user.exec` as client-go does; a relative command with a slash is beside the kubeconfig."""
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: user.exec must be a mapping")
    api_version = section.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise ConfigError(
            f"{where}: exec plugin apiVersion {api_version!r} is not supported; use one of "
            + ", ".join(API_VERSIONS)
        )
    command = section.get("command")
    if not isinstance(command, str) or not command:
        raise ConfigError(f"{where}: exec plugin needs a command")
    mode = section.get("interactiveMode")
    if mode is None and api_version.endswith("/v1"):
        raise ConfigError(
            f"{where}: exec plugin of apiVersion v1 needs interactiveMode (Never or IfAvailable)"
        )
    if mode is not None and mode not in INTERACTIVE_MODES:
        raise ConfigError(f"{where}: exec interactiveMode must be one of {', '.join(INTERACTIVE_MODES)}")
    if mode == "Always":
        raise ConfigError(f"{where}: exec plugin wants interactiveMode Always; the daemon has no terminal")
    if os.sep in command and not os.path.isabs(command):
        command = str(base / command)
    args = section.get("args") or []
    env = section.get("env") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{where}: exec args must be a list of strings")
    pairs: list[tuple[str, str]] = []
    for item in env if isinstance(env, list) else [None]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"{where}: exec env must be a list of {{name, value}}")
        pairs.append((item["name"], str(item.get("value", ""))))
    cluster_json = None
    if section.get("provideClusterInfo"):
        info: dict[str, Any] = {"server": cluster.get("server")}
        for key, out in (
            ("certificate-authority-data", "certificate-authority-data"),
            ("insecure-skip-tls-verify", "insecure-skip-tls-verify"),
            ("tls-server-name", "tls-server-name"),
            ("proxy-url", "proxy-url"),
        ):
            if cluster.get(key) is not None:
                info[out] = cluster[key]
        extension = next(
            (
                e.get("extension")
                for e in cluster.get("extensions") or []
                if isinstance(e, dict) and e.get("name") == "client.authentication.k8s.io/exec"
            ),
            None,
        )
        if extension is not None:
            info["config"] = extension
        cluster_json = json.dumps(info)
    hint = section.get("installHint")
    return ExecConfig(
        api_version=str(api_version),
        command=command,
        args=tuple(args),
        env=tuple(pairs),
        install_hint=str(hint) if hint else None,
        cluster_json=cluster_json,
        where=where,
    )


@dataclass(frozen=True)
class Credential:
    token: str
    expires_at: datetime | None  # None: valid until the API server answers 401


def run_plugin(
    config: ExecConfig, *, environ: Mapping[str, str], timeout: float = RUN_TIMEOUT_S
) -> Credential:
    """Runs the plugin once and reads its ExecCredential; every failure is a ConfigError saying what to do."""
    what = f"{config.where}: exec plugin {config.command}"
    binary = (
        config.command if os.sep in config.command else shutil.which(config.command, path=environ.get("PATH"))
    )
    if binary is None or not Path(binary).exists():
        hint = f"; {config.install_hint}" if config.install_hint else ""
        raise ConfigError(f"{what} was not found{hint}")
    env = {**environ, **dict(config.env), "KUBERNETES_EXEC_INFO": config.exec_info()}
    try:
        done = subprocess.run(
            [binary, *config.args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what} gave no credential within {timeout:g}s") from None
    except OSError as exc:
        raise ConfigError(f"{what} could not be started: {exc.strerror}") from None
    if done.returncode != 0:
        stderr = " ".join(done.stderr.decode(errors="replace").split())[:300]
        raise ConfigError(redact(f"{what} exited with {done.returncode}: {stderr or 'no message'}"))
    return parse_credential(done.stdout, api_version=config.api_version, what=what)


def parse_credential(raw: bytes, *, api_version: str, what: str) -> Credential:
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{what} printed no JSON ExecCredential") from None
    if not isinstance(data, dict) or data.get("kind") != "ExecCredential":
        raise ConfigError(f"{what} printed something other than an ExecCredential")
    if data.get("apiVersion") != api_version:
        raise ConfigError(
            f"{what} answered apiVersion {data.get('apiVersion')!r}, not the {api_version!r} asked"
        )
    status = data.get("status")
    if not isinstance(status, dict):
        raise ConfigError(f"{what}: the ExecCredential has no status")
    token = status.get("token")
    if not isinstance(token, str) or not token:
        if status.get("clientCertificateData"):
            raise ConfigError(f"{what} returns a client certificate; only token credentials are supported")
        raise ConfigError(f"{what}: the ExecCredential has no status.token")
    REDACTOR.add(token)
    expires_at = None
    if status.get("expirationTimestamp"):
        try:
            expires_at = datetime.fromisoformat(str(status["expirationTimestamp"]).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{what}: expirationTimestamp is not an RFC 3339 time") from None
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
    return Credential(token=token, expires_at=expires_at)


class ExecCache:
    """One credential per plugin configuration, kept until it expires or is refused (client-go's cache)."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float = RUN_TIMEOUT_S,
    ) -> None:
        self._environ = environ
        self._now = now
        self._timeout = timeout
        self._lock = threading.Lock()  # one plugin run at a time: concurrent rollbacks share its answer
        self._held: dict[ExecConfig, Credential] = {}
        self.runs = 0

    def get(self, config: ExecConfig) -> Credential:
        with self._lock:
            held = self._held.get(config)
            if held is not None and (held.expires_at is None or self._now() < held.expires_at):
                return held
            fresh = run_plugin(config, environ=self._environ or os.environ, timeout=self._timeout)
            self.runs += 1
            self._held[config] = fresh
            return fresh

    def refused(self, config: ExecConfig, token: str) -> None:
        """The API server answered 401 to `token`: forget it (unless another caller already replaced it)."""
        with self._lock:
            held = self._held.get(config)
            if held is not None and held.token == token:
                del self._held[config]


class ExecAuth(httpx.Auth):
    """Bearer token from the plugin; on a 401 the plugin runs again and the request is sent once more."""

    def __init__(self, config: ExecConfig, cache: ExecCache) -> None:
        self.config = config
        self.cache = cache

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ExecAuth is used with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # The plugin may take seconds (a cloud CLI): it runs in a thread, never on the event loop.
        credential = await asyncio.to_thread(self.cache.get, self.config)
        request.headers["Authorization"] = f"Bearer {credential.token}"
        response = yield request
        if response.status_code == 401:
            self.cache.refused(self.config, credential.token)
            credential = await asyncio.to_thread(self.cache.get, self.config)
            request.headers["Authorization"] = f"Bearer {credential.token}"
            yield request
