"""Where the Kubernetes API server is and how to authenticate: api_url + token, in-cluster, or a kubeconfig.

Resolved at each call, so a rotated service-account token or an edited kubeconfig needs no restart.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from watchdog.errors import ConfigError
from watchdog.policy.connections import KubernetesTargetConfig
from watchdog.policy.secrets import resolve_secret
from watchdog.redact import REDACTOR
from watchdog.targets.kubeexec import ExecConfig, parse_exec

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ClusterAuth:
    server: str
    source: str  # for people: "in-cluster", "kubeconfig ~/.kube/config context prod", "api_url"
    token: str | None = None
    token_file: str | None = None  # read at each use: bound service-account tokens rotate every hour
    ca_file: str | None = None
    ca_data: str | None = None  # PEM text
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    insecure: bool = False
    exec: ExecConfig | None = (
        None  # a credential plugin: its token is fetched per request (kubeexec.ExecAuth)
    )

    def bearer(self) -> str | None:
        token = self.token
        if token is None and self.token_file:
            try:
                token = Path(self.token_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"cannot read token file {self.token_file}: {exc.strerror}") from None
        REDACTOR.add(token)
        return token

    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify`: False to skip TLS checks (or for plain HTTP), else a context with our CA."""
        if self.insecure or self.server.startswith("http://"):
            return False
        ctx = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_data)
        if self.cert_pem and self.key_pem:
            # ssl loads client certificates only from files: write them 0600, load, delete at once.
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp, "client.crt"), Path(tmp, "client.key")
                for path, data in ((cert, self.cert_pem), (key, self.key_pem)):
                    path.touch(mode=0o600)
                    path.write_bytes(data)
                ctx.load_cert_chain(cert, key)
        return ctx


def in_cluster(*, environ: Mapping[str, str], sa_dir: Path = SERVICE_ACCOUNT_DIR) -> ClusterAuth | None:
    """The pod's own service account, as client-go's InClusterConfig finds it; None outside a cluster."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    token = sa_dir / "token"
    if not host or not port or not token.is_file():
        return None
    if ":" in host:  # an IPv6 address needs brackets in a URL
        host = f"[{host}]"
    ca = sa_dir / "ca.crt"
    return ClusterAuth(
        server=f"https://{host}:{port}",
        source="in-cluster service account",
        token_file=str(token),
        ca_file=str(ca) if ca.is_file() else None,
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe").load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    except Exception as exc:  # ruamel raises several unrelated types for bad YAML
        raise ConfigError(f"kubeconfig {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    return data


def _named(entries: list[dict[str, Any]], kind: str, name: str, path: str) -> dict[str, Any]:
    for entry in entries:
        if entry.get("name") == name:
            value = entry.get(kind) or {}
            return value if isinstance(value, dict) else {}
    raise ConfigError(f"kubeconfig {path}: no {kind} named {name!r}")


def _file_or_data(section: dict[str, Any], key: str, *, base: Path) -> tuple[str | None, bytes | None]:
    """A kubeconfig file reference (relative to the kubeconfig) or its inline base64 `-data` twin."""
    if section.get(f"{key}-data"):
        return None, base64.b64decode(section[f"{key}-data"])
    if section.get(key):
        return str(base / os.path.expanduser(section[key])), None
    return None, None


def load_kubeconfig(paths: list[Path], *, context: str | None = None) -> ClusterAuth:
    """Merges the files as kubectl does (the first definition of a name wins) and resolves one context."""
    merged: dict[str, list[dict[str, Any]]] = {"clusters": [], "users": [], "contexts": []}
    current: str | None = None
    for path in paths:
        data = _read_yaml(path)
        for key, entries in merged.items():
            entries.extend(e for e in data.get(key) or [] if isinstance(e, dict))
        current = current or data.get("current-context")
    where = os.pathsep.join(str(p) for p in paths)
    name = context or current
    if not name:
        raise ConfigError(f"kubeconfig {where}: no current-context and no context configured")
    ctx = _named(merged["contexts"], "context", name, where)
    cluster = _named(merged["clusters"], "cluster", str(ctx.get("cluster")), where)
    user = _named(merged["users"], "user", str(ctx.get("user")), where) if ctx.get("user") else {}
    if "auth-provider" in user:
        # client-go removed the in-tree auth providers (gcp, azure, oidc); exec plugins replace them.
        raise ConfigError(
            f"kubeconfig {where}: user of context {name!r} uses a removed auth-provider plugin; switch it to "
            "its exec plugin (gke-gcloud-auth-plugin, kubelogin) or give a token (token_env or token_file)"
        )
    if not cluster.get("server"):
        raise ConfigError(f"kubeconfig {where}: cluster of context {name!r} has no server")
    base = paths[0].parent
    plugin = None
    if "exec" in user:
        plugin = parse_exec(
            user["exec"], base=base, cluster=cluster, where=f"kubeconfig {where} context {name}"
        )
    ca_file, ca_data = _file_or_data(cluster, "certificate-authority", base=base)
    cert_file, cert_pem = _file_or_data(user, "client-certificate", base=base)
    key_file, key_pem = _file_or_data(user, "client-key", base=base)
    try:
        cert_pem = cert_pem or (Path(cert_file).read_bytes() if cert_file else None)
        key_pem = key_pem or (Path(key_file).read_bytes() if key_file else None)
    except OSError as exc:
        raise ConfigError(f"kubeconfig {where}: cannot read client certificate: {exc}") from None
    token_file = user.get("tokenFile")
    return ClusterAuth(
        server=str(cluster["server"]).rstrip("/"),
        source=f"kubeconfig {where} context {name}",
        token=user.get("token"),
        token_file=str(base / token_file) if token_file else None,
        ca_file=ca_file,
        ca_data=ca_data.decode() if ca_data else None,
        cert_pem=cert_pem,
        key_pem=key_pem,
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        exec=plugin,
    )


def _override(auth: ClusterAuth, config: KubernetesTargetConfig, token: str | None) -> ClusterAuth:
    changes: dict[str, Any] = {}
    if token:
        changes.update(token=token, token_file=None, exec=None)
    if config.ca_file:
        changes.update(ca_file=config.ca_file, ca_data=None)
    if config.insecure_skip_tls_verify:
        changes["insecure"] = True
    return ClusterAuth(**{**auth.__dict__, **changes})


def resolve_auth(
    config: KubernetesTargetConfig, *, environ: Mapping[str, str], sa_dir: Path = SERVICE_ACCOUNT_DIR
) -> ClusterAuth:
    """api_url (+ token_env/token_file), else an explicit kubeconfig, else in-cluster, else $KUBECONFIG."""
    secret = resolve_secret(
        env=config.token_env, file=config.token_file, what="kubernetes token", environ=environ
    )
    token = secret.get_secret_value() if secret else None
    if config.api_url:
        auth = ClusterAuth(server=config.api_url.rstrip("/"), source="api_url")
    elif config.kubeconfig:
        auth = load_kubeconfig([Path(config.kubeconfig).expanduser()], context=config.context)
    elif (pod := in_cluster(environ=environ, sa_dir=sa_dir)) is not None:
        auth = pod
    else:
        listed = [Path(p) for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        home = Path(environ.get("HOME", "~")).expanduser() / ".kube" / "config"
        paths = [p for p in listed if p.is_file()] or ([home] if home.is_file() else [])
        if not paths:
            raise ConfigError(
                "no Kubernetes API configured: set api_url, kubeconfig, run in a pod with a service "
                "account, or set KUBECONFIG"
            )
        auth = load_kubeconfig(paths, context=config.context)
    return _override(auth, config, token)
