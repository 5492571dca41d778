"""The Argo CD target against a loopback Argo CD API: history lookup, rollback, operation polling, auto-sync.

Failure paths: a failed sync, an app that never turns healthy, 5xx then success, 400 and 401 that are final.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import KNOWN_SECRET
from tests.fakes.argocd_api import FakeArgoCD
from tests.targets.conftest import FAILED, QUICK, STABLE, request
from watchdog.plumbing import Plumbing
from watchdog.policy.connections import ArgoCDTargetConfig
from watchdog.targets.argocd import ArgoCDTarget
from watchdog.targets.base import RollbackRequest

OLD, GOOD, BAD = (
    "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "3333333c" * 5,
)
ENV = {"ARGO_TOKEN": "argo-token-5678"}


def target(url: str, *, environ: dict[str, str] | None = None, **config: Any) -> ArgoCDTarget:
    cfg = ArgoCDTargetConfig.model_validate(
        {
            "type": "argocd",
            "url": url,
            "application": "checkout",
            "token_env": "ARGO_TOKEN",
            "timeout": 5,
            **config,
        }
    )
    return ArgoCDTarget(
        "argo", cfg, plumbing=Plumbing(environ=environ or ENV), poll_interval=0.01, backoff=QUICK
    )


def setup(argocd: FakeArgoCD, *, automated: bool = False) -> None:
    history = [(OLD, ["registry.example/checkout:1.4.0"]), (GOOD, [STABLE]), (BAD, [FAILED])]
    argocd.add_app("checkout", history=history, automated=automated)


async def test_rolls_back_to_the_matching_history_entry(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd)
    t = target(argocd.url)
    result = await t.rollback(req)
    assert result.ok, result.detail
    assert argocd.rollbacks() == [{"id": 1, "dryRun": False, "prune": False}]
    assert "history id 1" in result.detail and "synced and healthy" in result.detail
    assert "operation Running" in result.output and "health Healthy" in result.output
    current = await t.current(req)
    assert current.artifact == STABLE


async def test_matches_a_short_sha_when_images_are_unknown(argocd: FakeArgoCD) -> None:
    setup(argocd)
    result = await target(argocd.url).rollback(request(artifact=GOOD[:7], version="1.4.1"))
    assert result.ok, result.detail
    assert argocd.rollbacks()[0]["id"] == 1


async def test_second_identical_request_rolls_back_once(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd)
    t = target(argocd.url)
    first, second = await t.rollback(req), await t.rollback(req)
    assert first.ok and second.ok and "already rolled back" in second.detail
    restarted = await target(argocd.url).rollback(req)
    assert restarted.ok and "already runs" in restarted.detail
    assert len(argocd.rollbacks()) == 1


async def test_auto_sync_on_is_refused_by_default(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd, automated=True)
    result = await target(argocd.url).rollback(req)
    assert not result.ok
    assert "automated sync on" in result.detail and "allow_disable_autosync" in result.detail
    assert argocd.rollbacks() == [] and argocd.requests_of("PATCH") == []


async def test_auto_sync_is_disabled_when_allowed(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd, automated=True)
    result = await target(argocd.url, allow_disable_autosync=True).rollback(req)
    assert result.ok, result.detail
    assert "automated sync disabled" in result.detail
    patch = argocd.requests_of("PATCH")[0].body
    assert patch["patchType"] == "merge" and json.loads(patch["patch"]) == {
        "spec": {"syncPolicy": {"automated": None}}
    }
    assert "automated" not in argocd.apps["checkout"]["spec"]["syncPolicy"]
    assert "DISABLED" in result.output


async def test_failed_sync_operation(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd)
    argocd.operation_result = "Failed"
    result = await target(argocd.url).rollback(req)
    assert not result.ok
    assert "sync operation Failed" in result.detail and "admission webhook denied" in result.detail


async def test_never_healthy_times_out(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd)
    argocd.never_healthy = True
    result = await target(argocd.url, timeout=0.3).rollback(req)
    assert not result.ok
    assert "not healthy after 0.3 s" in result.detail and "health Progressing" in result.detail


async def test_5xx_then_success(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd)
    argocd.fail(502, {"error": "bad gateway"}, method="GET", times=2)
    result = await target(argocd.url).rollback(req)
    assert result.ok, result.detail
    assert result.attempts == 3


async def test_retried_post_finds_its_own_operation(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd)
    # The first POST starts the operation, but a proxy answers 504; the retry gets Argo CD's 400.
    argocd.lose_rollback_answers = 1
    result = await target(argocd.url).rollback(req)
    assert result.ok, result.detail
    assert len(argocd.rollbacks()) == 2
    assert "another operation is already in progress" in result.output


async def test_unknown_history_is_permanent(argocd: FakeArgoCD) -> None:
    setup(argocd)
    result = await target(argocd.url).rollback(
        request(artifact="registry.example/checkout:0.9", version="0.9")
    )
    assert not result.ok
    assert "no entry in application checkout's history" in result.detail
    assert argocd.rollbacks() == []


async def test_bad_token_is_not_retried_nor_kept(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    setup(argocd)
    result = await target(argocd.url, environ={"ARGO_TOKEN": KNOWN_SECRET}).rollback(req)
    assert not result.ok
    assert "HTTP 401" in result.detail and "invalid session" in result.detail
    assert len(argocd.requests) == 1
    assert KNOWN_SECRET not in result.output + result.detail


async def test_missing_token_variable(argocd: FakeArgoCD, req: RollbackRequest) -> None:
    result = await target(argocd.url, environ={"OTHER": "x"}).rollback(req)
    assert not result.ok and "ARGO_TOKEN is not set" in result.detail


async def test_matches_the_tag_a_history_entry_asked_for(argocd: FakeArgoCD) -> None:
    setup(argocd)
    argocd.apps["checkout"]["status"]["history"][1]["source"]["targetRevision"] = "v1.4.1"
    result = await target(argocd.url).rollback(request(artifact="1.4.1", version="1.4.1"))
    assert result.ok, result.detail
    assert argocd.rollbacks()[0]["id"] == 1
    assert argocd.requests_of("GET")[1].path.find("/manifests") == -1  # no manifest rendering was needed
