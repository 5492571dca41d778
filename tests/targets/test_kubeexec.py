"""Kubeconfig exec credential plugins: a real script prints an ExecCredential; the fake API server checks it.

The plugin gets its args, env and KUBERNETES_EXEC_INFO; its token is cached until it expires or is refused.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.kubernetes_api import FakeKubernetes
from tests.targets.conftest import FAILED, QUICK, STABLE, request
from watchdog.errors import ConfigError
from watchdog.plumbing import Plumbing
from watchdog.policy.connections import KubernetesTargetConfig
from watchdog.targets.kubeconfig import load_kubeconfig
from watchdog.targets.kubeexec import ExecCache
from watchdog.targets.kubernetes import KubernetesTarget

PLUGIN = """#!{python}
import datetime, json, os, pathlib, sys
here = pathlib.Path(__file__).parent
count = here / "runs"
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
with (here / "calls.jsonl").open("a") as log:
    log.write(json.dumps({{"args": sys.argv[1:], "info": os.environ.get("KUBERNETES_EXEC_INFO"),
                          "ttl": os.environ.get("PLUGIN_TTL")}}) + "\\n")
status = {{"token": f"exec-token-{{n}}"}}
ttl = float(os.environ.get("PLUGIN_TTL", "0"))
if ttl:
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
    status["expirationTimestamp"] = until.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
version = "client.authentication.k8s.io/v1"
print(json.dumps({{"apiVersion": version, "kind": "ExecCredential", "status": status}}))
"""


def kubeconfig(tmp_path: Path, server: str, *, ttl: str, command: str = "./bin/get-token") -> Path:
    plugin = tmp_path / "bin" / "get-token"
    plugin.parent.mkdir(exist_ok=True)
    plugin.write_text(PLUGIN.format(python=sys.executable))
    plugin.chmod(0o755)
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "eks",
                "clusters": [{"name": "prod", "cluster": {"server": server}}],
                "contexts": [{"name": "eks", "context": {"cluster": "prod", "user": "eks"}}],
                "users": [
                    {
                        "name": "eks",
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1",
                                "command": command,
                                "args": ["eks", "get-token", "--cluster-name", "prod"],
                                "env": [{"name": "PLUGIN_TTL", "value": ttl}],
                                "interactiveMode": "Never",
                                "provideClusterInfo": True,
                                "installHint": "install the AWS CLI",
                            }
                        },
                    }
                ],
            }
        )
    )
    return path


def target(path: Path) -> KubernetesTarget:
    cfg = KubernetesTargetConfig(
        type="kubernetes", namespace="shop", deployment="checkout", kubeconfig=str(path), timeout=5
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(path.parent)}
    return KubernetesTarget("k8s", cfg, plumbing=Plumbing(environ=env), poll_interval=0.01, backoff=QUICK)


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "bin" / "runs").read_text())


@pytest.fixture
def kube() -> Iterator[FakeKubernetes]:
    server = FakeKubernetes(token="exec-token-1").start()
    server.add_deployment("shop", "checkout", history=[{"app": STABLE}, {"app": FAILED}])
    yield server
    server.stop()


async def test_plugin_token_reaches_the_api_server_and_is_rerun_on_expiry(
    kube: FakeKubernetes, tmp_path: Path
) -> None:
    t = target(kubeconfig(tmp_path, kube.url, ttl="1.5"))
    req = request()
    assert (await t.current(req)).artifact == FAILED  # exec-token-1 accepted
    assert (await t.current(req)).artifact == FAILED
    assert runs(tmp_path) == 1  # cached while valid
    (call,) = [json.loads(line) for line in (tmp_path / "bin" / "calls.jsonl").read_text().splitlines()]
    assert call["args"] == ["eks", "get-token", "--cluster-name", "prod"] and call["ttl"] == "1.5"
    info = json.loads(call["info"])
    assert info["kind"] == "ExecCredential" and info["apiVersion"] == "client.authentication.k8s.io/v1"
    assert info["spec"] == {"interactive": False, "cluster": {"server": kube.url}}

    time.sleep(1.6)  # past the credential's expirationTimestamp
    kube.token = "exec-token-2"
    result = await t.rollback(req)
    assert result.ok, result.detail
    assert runs(tmp_path) == 2 and kube.images("shop", "checkout") == {"app": STABLE}
    assert "exec-token" not in result.output + result.detail


async def test_a_401_reruns_the_plugin_once(kube: FakeKubernetes, tmp_path: Path) -> None:
    t = target(kubeconfig(tmp_path, kube.url, ttl="0"))  # no expiry: valid until refused
    assert (await t.current(request())).artifact == FAILED
    kube.token = "exec-token-2"  # the cluster rotated its credentials
    assert (await t.current(request())).artifact == FAILED
    assert runs(tmp_path) == 2
    assert (await t.current(request())).artifact == FAILED
    assert runs(tmp_path) == 2


def test_missing_plugin_says_the_install_hint(tmp_path: Path) -> None:
    auth = load_kubeconfig([kubeconfig(tmp_path, "http://127.0.0.1:1", ttl="0", command="aws-nope")])
    assert auth.exec is not None and auth.exec.command == "aws-nope"
    with pytest.raises(ConfigError, match="exec plugin aws-nope was not found; install the AWS CLI"):
        ExecCache(environ={"PATH": str(tmp_path)}).get(auth.exec)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"apiVersion": "client.authentication.k8s.io/v1alpha1"}, "apiVersion .* is not supported"),
        ({"interactiveMode": None}, "needs interactiveMode"),
        ({"interactiveMode": "Always"}, "has no terminal"),
        ({"command": ""}, "needs a command"),
    ],
)
def test_invalid_exec_stanzas(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = kubeconfig(tmp_path, "http://127.0.0.1:1", ttl="0")
    data = json.loads(path.read_text())
    stanza = data["users"][0]["user"]["exec"]
    for key, value in change.items():
        if value is None:
            stanza.pop(key)
        else:
            stanza[key] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        load_kubeconfig([path])


def test_failing_plugin_and_bad_output(tmp_path: Path) -> None:
    auth = load_kubeconfig([kubeconfig(tmp_path, "http://127.0.0.1:1", ttl="0")])
    assert auth.exec is not None
    script = Path(auth.exec.command)
    script.write_text("#!/bin/sh\necho 'token expired, run aws sso login' >&2\nexit 3\n")
    with pytest.raises(ConfigError, match="exited with 3: token expired, run aws sso login"):
        ExecCache().get(auth.exec)
    beta = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential"}
    script.write_text(f"#!/bin/sh\necho '{json.dumps(beta)}'\n")
    with pytest.raises(ConfigError, match=r"not the 'client\.authentication\.k8s\.io/v1' asked"):
        ExecCache().get(auth.exec)
