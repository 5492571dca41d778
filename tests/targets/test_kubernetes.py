"""The Kubernetes target against a loopback API server: template restore, image patch, rollout waiting.

Failure paths: stalled and never-available rollouts, 5xx then success, permanent 403, refused connections.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from tests.conftest import KNOWN_SECRET, free_port
from tests.fakes.kubernetes_api import FakeKubernetes
from tests.targets.conftest import FAILED, QUICK, STABLE, request
from watchdog.plumbing import Plumbing
from watchdog.policy.connections import KubernetesTargetConfig
from watchdog.targets.base import RollbackRequest, Target
from watchdog.targets.kubernetes import KubernetesTarget

ENV = {"KUBE_TOKEN": "kube-token-1234"}


def target(url: str, **config: Any) -> KubernetesTarget:
    cfg = KubernetesTargetConfig.model_validate(
        {
            "type": "kubernetes",
            "namespace": "shop",
            "deployment": "checkout",
            "api_url": url,
            "token_env": "KUBE_TOKEN",
            "timeout": 5,
            **config,
        }
    )
    return KubernetesTarget("k8s", cfg, plumbing=Plumbing(environ=ENV), poll_interval=0.01, backoff=QUICK)


def patches(kube: FakeKubernetes) -> list[str]:
    return [r.headers["content-type"] for r in kube.requests_of("PATCH")]


async def test_restores_the_stable_replicaset_template(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": STABLE}, {"app": FAILED}])
    t = target(kube.url)
    assert isinstance(t, Target)
    result = await t.rollback(req)
    assert result.ok, result.detail
    assert "ReplicaSet revision 1" in result.detail and "rollout complete" in result.detail
    assert patches(kube) == ["application/json-patch+json"]
    patch = kube.requests_of("PATCH")[0].body
    assert patch[0]["path"] == "/spec/template"
    assert "pod-template-hash" not in patch[0]["value"]["metadata"]["labels"]
    assert kube.images("shop", "checkout") == {"app": STABLE}
    # The controller reused the old ReplicaSet and moved its revision to the top, as the real one does.
    revisions = {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"
        ]
        for rs in kube.replicasets.values()
    }
    assert revisions == {STABLE: "3", FAILED: "2"}
    assert (await t.current(req)).artifact == STABLE


async def test_sets_the_image_when_no_replicaset_is_left(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": FAILED, "proxy": "envoy:1.30"}])
    result = await target(kube.url).rollback(req)
    assert result.ok, result.detail
    assert patches(kube) == ["application/strategic-merge-patch+json"]
    assert kube.requests_of("PATCH")[0].body == {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": STABLE}]}}}
    }
    assert kube.images("shop", "checkout") == {"app": STABLE, "proxy": "envoy:1.30"}


async def test_only_the_configured_container(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": FAILED, "worker": FAILED}])
    result = await target(kube.url, container="worker").rollback(req)
    assert result.ok, result.detail
    assert kube.images("shop", "checkout") == {"app": FAILED, "worker": STABLE}


async def test_second_identical_request_deploys_nothing(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": STABLE}, {"app": FAILED}])
    t = target(kube.url)
    first, second = await t.rollback(req), await t.rollback(req)
    assert first.ok and second.ok
    assert "already rolled back" in second.detail
    # A new process (a restart) finds the artifact running and patches nothing either.
    third = await target(kube.url).rollback(req)
    assert third.ok and "already runs" in third.detail
    assert len(kube.requests_of("PATCH")) == 1


async def test_rollout_that_never_becomes_available(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": FAILED}])
    kube.never_available = True
    result = await target(kube.url).rollback(req)
    assert not result.ok
    assert "ProgressDeadlineExceeded" in result.detail
    assert "0/3 available" in result.detail


async def test_rollout_timeout(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": FAILED}])
    kube.stalled = True
    result = await target(kube.url, timeout=0.2).rollback(req)
    assert not result.ok
    assert "not complete after 0.2 s" in result.detail


async def test_5xx_then_success_is_retried(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": FAILED}])
    kube.fail(503, {"kind": "Status", "message": "etcd leader changed"}, method="PATCH", times=2)
    kube.fail(429, None, method="GET", times=1, headers={"Retry-After": "0"})
    result = await target(kube.url).rollback(req)
    assert result.ok, result.detail
    assert result.attempts == 4
    assert len(kube.requests_of("PATCH")) == 3
    assert "etcd leader changed" in result.output


async def test_forbidden_is_permanent(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": FAILED}])
    message = (
        'deployments.apps "checkout" is forbidden: User "system:serviceaccount:ops:watchdog" cannot patch'
    )
    kube.fail(403, {"kind": "Status", "reason": "Forbidden", "message": message, "code": 403}, method="PATCH")
    result = await target(kube.url).rollback(req)
    assert not result.ok
    assert "HTTP 403" in result.detail and "cannot patch" in result.detail
    assert len(kube.requests_of("PATCH")) == 1 and result.attempts == 1


async def test_paused_deployment_is_refused(kube: FakeKubernetes, req: RollbackRequest) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": FAILED}])
    kube.deployments[("shop", "checkout")]["spec"]["paused"] = True
    result = await target(kube.url).rollback(req)
    assert not result.ok and "paused" in result.detail
    assert kube.requests_of("PATCH") == []


async def test_no_matching_container(kube: FakeKubernetes) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": "other/image:1"}])
    result = await target(kube.url).rollback(request())
    assert not result.ok and "set `container`" in result.detail


async def test_token_is_sent_and_never_kept(kube: FakeKubernetes) -> None:
    kube.token = KNOWN_SECRET
    kube.add_deployment("shop", "checkout", history=[{"app": FAILED}])
    cfg = KubernetesTargetConfig(
        type="kubernetes",
        namespace="shop",
        deployment="checkout",
        api_url=kube.url,
        token_env="TOKEN",
        timeout=5,
    )
    t = KubernetesTarget(
        "k8s", cfg, plumbing=Plumbing(environ={"TOKEN": KNOWN_SECRET}), poll_interval=0.01, backoff=QUICK
    )
    result = await t.rollback(request())
    assert result.ok, result.detail
    assert KNOWN_SECRET not in result.output + result.detail
    wrong = KubernetesTarget(
        "k8s", cfg, plumbing=Plumbing(environ={"TOKEN": "wrong-token"}), poll_interval=0.01, backoff=QUICK
    )
    refused = await wrong.rollback(request(deployment_id="other"))
    assert not refused.ok and "HTTP 401" in refused.detail


async def test_refused_connection_fails_after_retries(req: RollbackRequest) -> None:
    result = await target(f"http://127.0.0.1:{free_port()}").rollback(req)
    assert not result.ok
    assert "ConnectError" in result.detail
    assert result.attempts == QUICK.attempts


async def test_in_cluster_over_tls(tmp_path: Path, tls_pair: tuple[Path, Path], req: RollbackRequest) -> None:
    cert, key = tls_pair
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    kube = FakeKubernetes(token="sa-token-abcd", ssl_context=ctx).start()
    try:
        kube.add_deployment("shop", "checkout", history=[{"app": FAILED}])
        sa = tmp_path / "sa"
        sa.mkdir()
        (sa / "token").write_text("sa-token-abcd\n")
        (sa / "ca.crt").write_bytes(cert.read_bytes())
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": kube.url.rsplit(":", 1)[1]}
        cfg = KubernetesTargetConfig(type="kubernetes", namespace="shop", deployment="checkout", timeout=5)
        t = KubernetesTarget(
            "k8s", cfg, plumbing=Plumbing(environ=env), poll_interval=0.01, service_account_dir=sa
        )
        result = await t.rollback(req)
        assert result.ok, result.detail
        assert "in-cluster service account" in result.output
    finally:
        kube.stop()


async def test_a_bare_version_restores_the_same_repository_tagged_with_it(kube: FakeKubernetes) -> None:
    kube.add_deployment("shop", "checkout", history=[{"app": STABLE}, {"app": FAILED}])
    req = request(artifact="1.4.1", failed_artifact="1.4.2")
    t = target(kube.url)
    result = await t.rollback(req)
    assert result.ok, result.detail
    assert kube.images("shop", "checkout") == {"app": STABLE}
    assert "is a version, not an image" in result.output
    assert (await t.current(req)).artifact == "1.4.1"
