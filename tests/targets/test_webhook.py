"""The webhook target against a real loopback receiver: templated body, env-expanded headers, retries.

500 then 200 is retried, 400 is not, a receiver that never answers is a timeout that is not retried either.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import KNOWN_SECRET, free_port
from tests.targets.conftest import QUICK, STABLE, request
from watchdog.errors import ConfigError
from watchdog.plumbing import Plumbing
from watchdog.policy.connections import WebhookTargetConfig
from watchdog.targets.base import RollbackRequest
from watchdog.targets.webhook import WebhookTarget, idempotency_key


class Receiver:
    """Answers with the next scripted (status, body, delay); records method, path, headers and body."""

    def __init__(self) -> None:
        self.script: list[tuple[int, Any, float]] = []
        self.received: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(raw),
                        "peer": self.client_address[1],
                    }
                )
                status, body, delay = owner.script.pop(0) if owner.script else (204, None, 0.0)
                time.sleep(delay)
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = do_PATCH = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def target(url: str, **config: Any) -> WebhookTarget:
    cfg = WebhookTargetConfig.model_validate(
        {
            "type": "webhook",
            "url": url + "/repos/acme/${REPO}/actions/workflows/deploy.yml/dispatches",
            "headers": {"Authorization": "Bearer ${GITHUB_TOKEN}", "X-GitHub-Api-Version": "2022-11-28"},
            "body": {
                "ref": "main",
                "inputs": {"version": "{{ version }}", "artifact": "{{artifact}}", "n": 3},
            },
            "timeout": 2,
            **config,
        }
    )
    return WebhookTarget(
        "gha",
        cfg,
        plumbing=Plumbing(environ={"GITHUB_TOKEN": KNOWN_SECRET, "REPO": "checkout"}),
        backoff=QUICK,
    )


async def test_posts_the_templated_body(receiver: Receiver, req: RollbackRequest) -> None:
    receiver.script.append((200, {"workflow_run_id": 7, "html_url": "https://github.example/run/7"}, 0.0))
    result = await target(receiver.url).rollback(req)
    assert result.ok, result.detail
    assert "answered 200" in result.detail and "https://github.example/run/7" in result.detail
    got = receiver.received[0]
    assert got["path"] == "/repos/acme/checkout/actions/workflows/deploy.yml/dispatches"
    assert got["body"] == {"ref": "main", "inputs": {"version": "1.4.1", "artifact": STABLE, "n": 3}}
    assert got["headers"]["Authorization"] == f"Bearer {KNOWN_SECRET}"
    assert got["headers"]["Idempotency-Key"] == idempotency_key(req)
    assert KNOWN_SECRET not in result.output + result.detail
    assert "200 OK" in result.output and "workflow_run_id" in result.output


async def test_a_placeholder_never_becomes_structure_or_a_secret(receiver: Receiver) -> None:
    hostile = request(version='1.4.1", "ref": "evil', artifact="${GITHUB_TOKEN}")
    result = await target(receiver.url, method="PUT").rollback(hostile)
    assert result.ok, result.detail
    got = receiver.received[0]
    assert got["method"] == "PUT"
    assert got["body"]["ref"] == "main"
    assert got["body"]["inputs"] == {"version": '1.4.1", "ref": "evil', "artifact": "${GITHUB_TOKEN}", "n": 3}


async def test_500_then_200_is_retried(receiver: Receiver, req: RollbackRequest) -> None:
    receiver.script += [(500, {"message": "Server Error"}, 0.0), (503, None, 0.0), (204, None, 0.0)]
    result = await target(receiver.url).rollback(req)
    assert result.ok, result.detail
    assert result.attempts == 3 and len(receiver.received) == 3
    assert "500 Internal Server Error" in result.output


async def test_400_is_not_retried(receiver: Receiver, req: RollbackRequest) -> None:
    receiver.script.append((422, {"message": 'Unexpected inputs provided: ["artifact"]'}, 0.0))
    result = await target(receiver.url).rollback(req)
    assert not result.ok
    assert "HTTP 422" in result.detail and "Unexpected inputs" in result.detail
    assert len(receiver.received) == 1 and result.attempts == 1


async def test_5xx_every_time_gives_up_after_retries(receiver: Receiver, req: RollbackRequest) -> None:
    receiver.script += [(502, None, 0.0)] * 5
    result = await target(receiver.url, retries=2).rollback(req)
    assert not result.ok and "HTTP 502" in result.detail
    assert len(receiver.received) == 3


async def test_timeout_is_not_retried(receiver: Receiver, req: RollbackRequest) -> None:
    receiver.script.append((204, None, 1.0))
    result = await target(receiver.url, timeout=0.2).rollback(req)
    assert not result.ok
    assert "no answer within 0.2 s" in result.detail and "not retried" in result.detail
    assert len(receiver.received) == 1


async def test_refused_connection_is_retried(req: RollbackRequest) -> None:
    result = await target(f"http://127.0.0.1:{free_port()}", retries=1).rollback(req)
    assert not result.ok and "ConnectError" in result.detail
    assert result.attempts == 2


async def test_second_identical_request_posts_once(receiver: Receiver, req: RollbackRequest) -> None:
    t = target(receiver.url)
    first, second = await t.rollback(req), await t.rollback(req)
    assert first.ok and second.ok and "already rolled back" in second.detail
    assert len(receiver.received) == 1
    assert (await t.current(req)).artifact is None


async def test_missing_variable_fails_without_sending(receiver: Receiver, req: RollbackRequest) -> None:
    cfg = WebhookTargetConfig(type="webhook", url=receiver.url, headers={"Authorization": "Bearer ${NOPE}"})
    result = await WebhookTarget("gha", cfg, plumbing=Plumbing(environ={})).rollback(req)
    assert not result.ok and "NOPE is not set" in result.detail
    assert receiver.received == []


def test_misspelt_placeholder_fails_at_start_up() -> None:
    cfg = WebhookTargetConfig(type="webhook", url="http://127.0.0.1:9/x", body={"v": "{{ verison }}"})
    with pytest.raises(ConfigError, match="unknown placeholder"):
        WebhookTarget("gha", cfg)


async def test_calls_reuse_one_connection(receiver: Receiver) -> None:
    """One long-lived client per target: a second rollback rides the first call's kept-alive connection."""
    hook = target(receiver.url)
    first = await hook.rollback(request(deployment_id="dep-1"))
    second = await hook.rollback(request(deployment_id="dep-2"))
    assert first.ok and second.ok, (first.detail, second.detail)
    assert len(receiver.received) == 2
    assert receiver.received[0]["peer"] == receiver.received[1]["peer"]
    await hook.aclose()
