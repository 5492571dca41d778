"""Rollback end to end through the Kubernetes adapter: the daemon process against a loopback API server.

v1 passes and becomes stable; v2's /healthz fails, so the image goes back to v1's exact digest;
the restored version verifies, the deployment reads rolled_back; a second bad deploy in the hour is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.daemon import Daemon
from tests.fakes.kubernetes_api import FakeKubernetes
from watchdog.demo.app import DemoApp

pytestmark = pytest.mark.slow

TOKEN = "k8s-token-for-tests"
IMAGES = {
    "1.0.0": "registry.example/shop@sha256:" + "1" * 64,
    "1.1.0-down": "registry.example/shop@sha256:" + "2" * 64,
    "1.2.0-down": "registry.example/shop@sha256:" + "3" * 64,
}


class ClusterWithApp(FakeKubernetes):
    """The pods run what the Deployment says: every image change redeploys the app to that version."""

    def __init__(self, app: DemoApp) -> None:
        super().__init__(token=TOKEN)
        self.app = app

    def _patch(self, key: tuple[str, str], content_type: str, body: Any) -> tuple[int, Any]:
        status, answer = super()._patch(key, content_type, body)
        image = self.images(*key)["app"]
        version = next(v for v, i in IMAGES.items() if i == image)
        if version != self.app.version:
            self.app.deploy(version, artifact=image)
        return status, answer


@pytest.fixture
def cluster() -> Iterator[ClusterWithApp]:
    with DemoApp(port=0, version="1.0.0", rps=50, seed=5).start() as app:
        kube = ClusterWithApp(app)
        kube.start()
        kube.add_deployment("shop", "shop", history=[{"app": IMAGES["1.0.0"]}], replicas=2)
        try:
            yield kube
        finally:
            kube.stop()


def write_config(root: Path, kube: ClusterWithApp) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text(
        yaml.safe_dump(
            {
                "targets": {
                    "k8s": {
                        "type": "kubernetes",
                        "namespace": "shop",
                        "deployment": "shop",
                        "container": "app",
                        "api_url": kube.url,
                        "token_env": "K8S_TOKEN",
                        "timeout": "30s",
                    }
                }
            }
        )
    )
    (config / "services" / "shop.yaml").write_text(
        yaml.safe_dump(
            {
                "service": "shop",
                "defaults": {
                    "verification": {"duration": "4s", "interval": "1s", "warmup": "0s", "failure_limit": 2},
                    "on_failure": "rollback",
                    "rollback": {"max_per_hour": 1, "verification": {"duration": "6s", "interval": "2s"}},
                },
                "environments": {
                    "production": {
                        "target": "k8s",
                        "checks": [
                            {
                                "name": "healthz",
                                "type": "http",
                                "url": f"{kube.app.url}/healthz",
                                "expect": {"status": 200, "json": {"version": "{{ version }}"}},
                                "timeout": "1s",
                            },
                        ],
                    }
                },
            }
        )
    )
    return config


def deploy(kube: ClusterWithApp, daemon: Daemon, version: str) -> str:
    """What a deploy system does: patch the Deployment's image, then tell the watchdog."""
    r = httpx.patch(
        f"{kube.url}/apis/apps/v1/namespaces/shop/deployments/shop",
        json={"spec": {"template": {"spec": {"containers": [{"name": "app", "image": IMAGES[version]}]}}}},
        headers={
            "content-type": "application/strategic-merge-patch+json",
            "authorization": f"Bearer {TOKEN}",
        },
    )
    assert r.status_code == 200, r.text
    return daemon.notify(service="shop", environment="production", version=version, artifact=IMAGES[version])


def test_bad_deploy_is_rolled_back_to_the_exact_digest_then_the_hourly_budget_refuses(
    tmp_path: Path, cluster: ClusterWithApp
) -> None:
    daemon = Daemon(
        config=write_config(tmp_path, cluster), data=tmp_path / "data", env={"K8S_TOKEN": TOKEN}
    ).start()
    try:
        v1 = daemon.notify(
            service="shop", environment="production", version="1.0.0", artifact=IMAGES["1.0.0"]
        )
        assert daemon.wait_state(v1, {"passed", "failed", "inconclusive"}, timeout=30)["state"] == "passed"

        v2 = deploy(cluster, daemon, "1.1.0-down")
        final = daemon.wait_state(v2, {"rolled_back", "rollback_failed"}, timeout=90)
        assert final["state"] == "rolled_back", final["reasons"]
        assert cluster.images("shop", "shop") == {"app": IMAGES["1.0.0"]}  # v1's exact digest
        assert cluster.app.version == "1.0.0"
        assert final["rollback"]["to_artifact"] == IMAGES["1.0.0"]
        assert final["rollback_verifications"][0]["state"] == "passed"

        v3 = deploy(cluster, daemon, "1.2.0-down")
        refused = daemon.wait_state(v3, {"failed", "rolled_back", "rollback_failed"}, timeout=30)
        daemon.wait_for(lambda: daemon.deployment(v3)["rollback"] is not None, what="the refusal", timeout=10)
        refused = daemon.deployment(v3)
        assert refused["state"] == "failed"
        assert refused["rollback"]["state"] == "refused"
        assert "max_per_hour 1" in refused["rollback"]["reason"]
        assert cluster.images("shop", "shop") == {"app": IMAGES["1.2.0-down"]}  # nobody touched it
    finally:
        daemon.stop()
