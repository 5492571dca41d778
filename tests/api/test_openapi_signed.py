"""Schemathesis against /openapi.json with every event body signed, so fuzzed payloads reach the parsers.

Each generated body is serialised once, signed the way its sender signs it, and must never answer 5xx.
1,200 cases over the four event routes (positive and negative), derandomized and bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core import NotSet

from tests.api.harness import ARGOCD_TOKEN, GITLAB_TOKEN, T0, generic_headers, github_headers, make_runtime
from tests.api.server import serving
from watchdog.api.app import create_app

ROUTES = ["/v1/events", "/v1/webhooks/github", "/v1/webhooks/gitlab", "/v1/webhooks/argocd"]
CASES = {GenerationMode.POSITIVE: 200, GenerationMode.NEGATIVE: 100}  # per route: 1,200 in all
SEEN: dict[str, int] = {}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client]]:
    """The app behind a real uvicorn on loopback: what a sender meets, 5xx included."""
    runtime = make_runtime(tmp_path_factory.mktemp("signed"))
    with serving(create_app(runtime)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield url, client
    runtime.store.close()


def signed(path: str, body: bytes, n: int) -> dict[str, str]:
    """The hook: the headers that authenticate exactly these bytes on this route."""
    if path == "/v1/events":
        return generic_headers(body, msg_id=f"fuzz-{n}", at=T0)
    if path == "/v1/webhooks/github":
        return github_headers(body, delivery=f"fuzz-{n}")
    if path == "/v1/webhooks/gitlab":
        return {
            "content-type": "application/json",
            "x-gitlab-event": "Deployment Hook",
            "x-gitlab-event-uuid": f"fuzz-{n}",
            "x-gitlab-token": GITLAB_TOKEN,
        }
    return {"content-type": "application/json", "x-watchdog-token": ARGOCD_TOKEN}


def steer(path: str, body: Any, n: int) -> Any:
    """Every other generic event names a service and environment that exist, so acceptance is fuzzed too."""
    if path == "/v1/events" and isinstance(body, dict) and n % 2 == 0:
        return {**body, "service": "checkout", "environment": "staging"}
    return body


@pytest.mark.parametrize("mode", list(CASES), ids=[m.value for m in CASES])
@pytest.mark.parametrize("path", ROUTES)
def test_signed_fuzzed_events_never_answer_5xx(
    served: tuple[str, httpx.Client], path: str, mode: GenerationMode
) -> None:
    url, client = served
    operation = schemathesis.openapi.from_url(f"{url}/openapi.json")[path]["POST"]
    key = f"{path} {mode.value}"
    SEEN[key] = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=CASES[mode], derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
    )
    def run(case: schemathesis.Case[Any]) -> None:
        SEEN[key] += 1
        n = sum(SEEN.values())
        data = None if isinstance(case.body, NotSet) else steer(path, case.body, n)
        # Negative mode may generate values JSON cannot hold (bytes, say): sent as their text.
        body = json.dumps(data, default=repr).encode() if data is not None else b""
        resp = client.post(path, content=body, headers=signed(path, body, n))
        assert resp.status_code < 500, (resp.status_code, resp.text, body[:300])
        answer = resp.json()
        if resp.status_code == 202:
            assert set(answer) == {"deployment_id", "state"}
        elif resp.status_code >= 400:
            assert set(answer) == {"error", "detail"} and answer["detail"], answer

    run()
    # Derandomized hypothesis stops early only when the strategy has fewer distinct cases than asked.
    assert SEEN[key] >= min(CASES[mode], 50), SEEN


def test_the_run_was_large_enough() -> None:
    if len(SEEN) == len(ROUTES) * len(CASES):
        assert sum(SEEN.values()) >= 1000, SEEN
