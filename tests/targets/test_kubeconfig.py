"""Kubernetes connection resolution: api_url + token, in-cluster files, kubeconfig contexts and inline data.

Files are real temporary files; nothing here talks to a server (test_kubernetes.py does, over TLS too).
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest

from watchdog.errors import ConfigError
from watchdog.policy.connections import KubernetesTargetConfig
from watchdog.targets.kubeconfig import in_cluster, load_kubeconfig, resolve_auth

KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: staging
clusters:
- name: prod
  cluster: {server: "https://prod.example:6443/", certificate-authority: certs/ca.crt}
- name: staging
  cluster: {server: "https://staging.example:6443", insecure-skip-tls-verify: true}
users:
- name: robot
  user: {token: robot-token-1234}
- name: certs
  user: {client-certificate-data: CERT_B64, client-key-data: KEY_B64}
- name: eks
  user: {exec: {command: aws, args: [eks, get-token]}}
contexts:
- name: prod
  context: {cluster: prod, user: certs}
- name: staging
  context: {cluster: staging, user: robot}
- name: eks
  context: {cluster: prod, user: eks}
"""


def cfg(**values: Any) -> KubernetesTargetConfig:
    return KubernetesTargetConfig.model_validate(
        {"type": "kubernetes", "namespace": "shop", "deployment": "checkout", **values}
    )


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    text = KUBECONFIG.replace("CERT_B64", base64.b64encode(b"CERT PEM").decode())
    path.write_text(text.replace("KEY_B64", base64.b64encode(b"KEY PEM").decode()))
    return path


def test_current_context(kubeconfig: Path) -> None:
    auth = load_kubeconfig([kubeconfig])
    assert auth.server == "https://staging.example:6443"
    assert auth.bearer() == "robot-token-1234" and auth.insecure
    assert auth.verify() is False


def test_named_context_with_relative_ca_and_inline_client_cert(kubeconfig: Path) -> None:
    auth = load_kubeconfig([kubeconfig], context="prod")
    assert auth.server == "https://prod.example:6443"
    assert auth.ca_file == str(kubeconfig.parent / "certs/ca.crt")
    assert (auth.cert_pem, auth.key_pem) == (b"CERT PEM", b"KEY PEM")
    assert auth.bearer() is None


def test_exec_plugin_without_api_version_is_refused(kubeconfig: Path) -> None:
    # Runnable exec plugins are covered in test_kubeexec.py; client-go also insists on the apiVersion.
    with pytest.raises(ConfigError, match=r"exec plugin apiVersion None is not supported"):
        load_kubeconfig([kubeconfig], context="eks")


def test_unknown_context(kubeconfig: Path) -> None:
    with pytest.raises(ConfigError, match="no context named 'nope'"):
        load_kubeconfig([kubeconfig], context="nope")


def test_in_cluster_needs_env_and_token(tmp_path: Path) -> None:
    assert in_cluster(environ={}, sa_dir=tmp_path) is None
    (tmp_path / "token").write_text("t0ken-one\n")
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    auth = in_cluster(environ=env, sa_dir=tmp_path)
    assert auth is not None and auth.server == "https://[fd00::1]:443"
    assert auth.bearer() == "t0ken-one"
    (tmp_path / "token").write_text("t0ken-two\n")  # kubelet rotates the projected token
    assert auth.bearer() == "t0ken-two"


def test_resolution_order(tmp_path: Path, kubeconfig: Path) -> None:
    env = {"TOKEN": "from-env-1234", "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    direct = resolve_auth(cfg(api_url="http://127.0.0.1:1/", token_env="TOKEN"), environ=env, sa_dir=tmp_path)
    assert (direct.server, direct.bearer(), direct.source) == (
        "http://127.0.0.1:1",
        "from-env-1234",
        "api_url",
    )
    from_file = resolve_auth(cfg(kubeconfig=str(kubeconfig), context="prod", token_env="TOKEN"), environ=env)
    assert from_file.server == "https://prod.example:6443" and from_file.bearer() == "from-env-1234"
    listed = resolve_auth(cfg(), environ=env, sa_dir=tmp_path)
    assert listed.source.startswith("kubeconfig") and listed.bearer() == "robot-token-1234"
    with pytest.raises(ConfigError, match="no Kubernetes API configured"):
        resolve_auth(cfg(), environ={"HOME": str(tmp_path)}, sa_dir=tmp_path)


def test_ca_file_builds_a_verifying_context(tls_pair: tuple[Path, Path]) -> None:
    cert, _ = tls_pair
    auth = resolve_auth(cfg(api_url="https://127.0.0.1:6443", ca_file=str(cert)), environ={})
    ctx = auth.verify()
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED
