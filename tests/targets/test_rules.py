"""The pure rules behind the targets, as tables: rollout state, image repositories, templating, backoff.

Also the retry loop itself: transient errors are retried with growing delays, permanent ones at once.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.targets.conftest import request
from watchdog.errors import TargetError, TransientTargetError
from watchdog.targets import kubeobjects as ko
from watchdog.targets.retry import Backoff, RetryAfter, raise_for_status, retry_after_seconds, with_retries


def dep(*, gen: int = 2, **status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": gen}, "spec": {"replicas": 3}, "status": status}


PDE = [{"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "timed out"}]


@pytest.mark.parametrize(
    ("obj", "generation", "state"),
    [
        (dep(observedGeneration=1, updatedReplicas=3, replicas=3, availableReplicas=3), 2, "waiting"),
        (dep(observedGeneration=1, conditions=PDE), 2, "waiting"),  # the old spec's stall is not ours
        (dep(observedGeneration=2, updatedReplicas=1, replicas=4, availableReplicas=3), 2, "waiting"),
        (dep(observedGeneration=2, updatedReplicas=3, replicas=4, availableReplicas=3), 2, "waiting"),
        (dep(observedGeneration=2, updatedReplicas=3, replicas=3, availableReplicas=2), 2, "waiting"),
        (dep(observedGeneration=2, updatedReplicas=3, replicas=3, availableReplicas=3), 2, "done"),
        (
            dep(observedGeneration=2, updatedReplicas=3, replicas=3, availableReplicas=0, conditions=PDE),
            2,
            "failed",
        ),
        (dep(gen=3, observedGeneration=2, updatedReplicas=3, replicas=3, availableReplicas=3), 2, "waiting"),
    ],
)
def test_rollout_state(obj: dict[str, Any], generation: int, state: str) -> None:
    assert ko.rollout_state(obj, generation=generation)[0] == state


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("nginx", "nginx"),
        ("nginx:1.27", "nginx"),
        ("registry:5000/team/app", "registry:5000/team/app"),
        ("registry:5000/team/app:1.2", "registry:5000/team/app"),
        ("ghcr.io/acme/app@sha256:abc", "ghcr.io/acme/app"),
        ("ghcr.io/acme/app:1.2@sha256:abc", "ghcr.io/acme/app"),
    ],
)
def test_repository(image: str, repo: str) -> None:
    assert ko.repository(image) == repo


def test_select_containers() -> None:
    images = {"app": "registry.example/checkout:1.4.2", "proxy": "envoy:1.30", "init": "registry.example/x:1"}
    assert ko.select_containers(images, container=None, req=request()) == ["app"]
    assert ko.select_containers(images, container="proxy", req=request()) == ["proxy"]
    assert ko.select_containers(images, container="missing", req=request()) == []


def test_backoff_grows_and_is_capped() -> None:
    b = Backoff(attempts=6, base=1.0, factor=2.0, max_delay=5.0)
    assert [b.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://127.0.0.1/"))


def test_status_classes() -> None:
    raise_for_status(response(204), what="x")
    for status in (500, 502, 503, 429):
        with pytest.raises(TransientTargetError):
            raise_for_status(response(status), what="x")
    for status in (400, 401, 403, 404, 409, 422):
        with pytest.raises(TargetError) as err:
            raise_for_status(response(status), what="x")
        assert not isinstance(err.value, TransientTargetError)
    with pytest.raises(RetryAfter) as hint:
        raise_for_status(response(429, **{"Retry-After": "7"}), what="x")
    assert hint.value.after == 7.0
    dated = response(
        503, **{"Retry-After": "Sun, 01 Nov 2026 12:00:30 GMT", "Date": "Sun, 01 Nov 2026 12:00:00 GMT"}
    )
    assert retry_after_seconds(dated) == 30.0


async def test_with_retries() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientTargetError("503")
        return "ok"

    done = await with_retries(flaky, backoff=Backoff(attempts=5, base=0.001))
    assert (done.value, done.attempts) == ("ok", 3)

    async def denied() -> str:
        calls.append(1)
        raise TargetError("403")

    calls.clear()
    with pytest.raises(TargetError):
        await with_retries(denied, backoff=Backoff(attempts=5, base=0.001))
    assert len(calls) == 1
