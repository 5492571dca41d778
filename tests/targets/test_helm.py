"""The Helm target driving a fake `helm` executable on PATH: revision choice, Helm 3/4 flags, failures.

The fake keeps release history in a JSON file and logs each argv, so the tests read exactly what was run.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.fake_helm import FakeHelm, revision
from tests.targets.conftest import QUICK, request
from watchdog.policy.connections import HelmTargetConfig
from watchdog.targets.base import RollbackRequest
from watchdog.targets.helm import HelmTarget


def target(**config: Any) -> HelmTarget:
    cfg = HelmTargetConfig.model_validate(
        {"type": "helm", "release": "checkout", "namespace": "shop", **config}
    )
    return HelmTarget("helm", cfg, poll_interval=0.01, backoff=QUICK, kill_grace=0.2, slack=0.3)


def standard_history(helm: FakeHelm) -> None:
    # Revision 3 is a failed upgrade: a bare `helm rollback` (current-1) would land on it.
    helm.set_history(
        "shop",
        "checkout",
        [
            revision(1, "1.4.0", "superseded"),
            revision(2, "1.4.1", "superseded"),
            revision(3, "1.4.2", "failed"),
            revision(4, "1.4.2", "deployed"),
        ],
    )


async def test_rolls_back_to_the_last_good_revision_helm3(helm: FakeHelm, req: RollbackRequest) -> None:
    standard_history(helm)
    result = await target().rollback(req)
    assert result.ok, result.detail
    assert "revision 2" in result.detail and "now revision 5 deployed" in result.detail
    assert helm.calls("rollback") == [
        ["rollback", "checkout", "2", "-n", "shop", "--wait", "--timeout", "300s"]
    ]
    assert helm.calls("version") == [["version", "--short"]]
    assert helm.history("shop", "checkout")[-1]["app_version"] == "1.4.1"


async def test_helm4_takes_a_wait_strategy(helm: FakeHelm, req: RollbackRequest) -> None:
    helm.set_version("v4.2.1+g1234567")
    standard_history(helm)
    result = await target(kube_context="prod", timeout="2m").rollback(req)
    assert result.ok, result.detail
    assert helm.calls("rollback") == [
        [
            "rollback",
            "checkout",
            "2",
            "-n",
            "shop",
            "--wait=watcher",
            "--timeout",
            "120s",
            "--kube-context",
            "prod",
        ]
    ]


async def test_second_identical_request_rolls_back_nothing(helm: FakeHelm, req: RollbackRequest) -> None:
    standard_history(helm)
    t = target()
    first, second = await t.rollback(req), await t.rollback(req)
    assert first.ok and second.ok and "already rolled back" in second.detail
    restarted = await target().rollback(req)
    assert restarted.ok and "already runs 1.4.1" in restarted.detail
    assert len(helm.calls("rollback")) == 1
    current = await target().current(req)
    assert current.artifact == req.artifact and current.version == "1.4.1"


async def test_same_app_version_is_told_apart_by_the_rollback_description(helm: FakeHelm) -> None:
    # A chart-only change: the failed deploy has the stable app version too.
    helm.set_history(
        "shop", "checkout", [revision(1, "1.4.1", "superseded"), revision(2, "1.4.1", "deployed")]
    )
    req = request(failed_version="1.4.1")
    first = await target().rollback(req)
    assert first.ok, first.detail
    again = await target().rollback(req)
    assert again.ok and "already runs" in again.detail
    assert len(helm.calls("rollback")) == 1


async def test_no_good_revision_for_the_version(helm: FakeHelm) -> None:
    helm.set_history("shop", "checkout", [revision(1, "1.4.1", "failed"), revision(2, "1.4.2", "deployed")])
    result = await target().rollback(request())
    assert not result.ok
    assert "no deployed/superseded revision" in result.detail and "1:1.4.1:failed" in result.detail
    assert helm.calls("rollback") == []


async def test_cluster_unreachable_is_retried(helm: FakeHelm, req: RollbackRequest) -> None:
    standard_history(helm)
    helm.fail(
        "rollback",
        stderr="Error: Kubernetes cluster unreachable: dial tcp 10.0.0.1:443: connect: connection refused",
    )
    result = await target().rollback(req)
    assert result.ok, result.detail
    assert result.attempts == 2 and len(helm.calls("rollback")) == 2
    assert "cluster unreachable" in result.output


async def test_rollout_timeout_is_permanent(helm: FakeHelm, req: RollbackRequest) -> None:
    standard_history(helm)
    helm.fail(
        "rollback",
        stderr="Error: release checkout failed, and has been rolled back due to atomic "
        "being set: timed out waiting for the condition",
        failed_revision=True,
    )
    result = await target().rollback(req)
    assert not result.ok
    assert "timed out waiting for the condition" in result.detail
    assert len(helm.calls("rollback")) == 1 and result.attempts == 1
    assert helm.history("shop", "checkout")[-1]["status"] == "failed"


async def test_hung_helm_is_killed(helm: FakeHelm, req: RollbackRequest) -> None:
    standard_history(helm)
    helm.fail("rollback", stderr="never printed", sleep=30)
    result = await target(timeout=0.2).rollback(req)
    assert not result.ok
    assert "did not finish within 0.5 s" in result.detail


async def test_missing_helm_binary(req: RollbackRequest) -> None:
    result = await target(helm="/nonexistent/helm").rollback(req)
    assert not result.ok and "cannot run /nonexistent/helm" in result.detail


async def test_unknown_release(helm: FakeHelm, req: RollbackRequest) -> None:
    result = await target().rollback(req)
    assert not result.ok and "release: not found" in result.detail
