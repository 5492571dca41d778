"""Hostile events through the real daemon: what a holder of a signing key (or a stranger's branch name) tries.

One recording loopback sink plays the probed service, Prometheus and the webhook target. Whatever the
event carries, no secret reaches the sink, no request leaves its configured path, no query gains a clause,
the rollback restores the verified artifact, and nothing answers 5xx or loops on an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import yaml
from standardwebhooks.webhooks import Webhook

from tests.conftest import KNOWN_SECRET
from tests.e2e.daemon import ADMIN, SECRET, Daemon
from tests.fakes.recording_sink import HEALTHY, RecordingSink, query_version

pytestmark = pytest.mark.slow

TARGET_TOKEN = "target-bearer-token-value-4711"
GOOD = "registry.example/shop@sha256:" + "a" * 64
BACKDOOR = "evil.example/backdoor@sha256:" + "6" * 64
HOSTILE_VERSIONS = [
    "${WATCHDOG_ADMIN_TOKEN}",
    '1.0"} or vector(0) #',
    "1.0/../../../evil?q=",
    "{{ artifact }}",
]


def write_config(root: Path, sink: RecordingSink) -> Path:
    config = root / "config"
    (config / "services").mkdir(parents=True)
    daemon = {
        "sources": {"prom": {"type": "prometheus", "url": f"{sink.url}/prom", "retries": 0}},
        "targets": {
            "hook": {
                "type": "webhook",
                "url": f"{sink.url}/deploy/{{{{ failed_version }}}}/restore?to={{{{ artifact }}}}",
                "headers": {"Authorization": "Bearer ${TARGET_TOKEN}", "X-Failed": "{{ failed_version }}"},
                "body": {"restore": "{{ artifact }}", "failed": "{{ failed_version }}"},
                "retries": 0,
            }
        },
    }
    policy = {
        "service": "shop",
        "defaults": {
            "verification": {"duration": "4s", "interval": "1s", "warmup": "0s", "failure_limit": 2},
            "on_failure": "rollback",
            "rollback": {"max_per_hour": 20, "verification": {"duration": "4s", "interval": "2s"}},
        },
        "environments": {
            "production": {
                "target": "hook",
                "checks": [
                    {
                        "name": "healthz",
                        "type": "http",
                        "url": f"{sink.url}/svc/{{{{ version }}}}/healthz?v={{{{ version }}}}",
                        "headers": {"X-Version": "{{ version }}"},
                        "expect": {"status": 200},
                        "timeout": "1s",
                    },
                    {
                        "name": "errors",
                        "type": "metric",
                        "source": "prom",
                        "query": 'sum(errors{version="{{ version }}"})',
                        "max": 1,
                    },
                ],
            }
        },
    }
    (config / "watchdog.yaml").write_text(yaml.safe_dump(daemon))
    (config / "services" / "shop.yaml").write_text(yaml.safe_dump(policy))
    return config


def post_signed(daemon: Daemon, body: bytes) -> httpx.Response:
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = time.time()
    signature = Webhook(SECRET).sign(
        msg_id, datetime.fromtimestamp(now, UTC), body.decode("utf-8", "replace")
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": signature,
    }
    return httpx.post(f"{daemon.url}/v1/events", content=body, headers=headers, timeout=10)


def post_github(daemon: Daemon, payload: dict[str, Any], *, delivery: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(KNOWN_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-github-event": "deployment_status",
        "x-github-delivery": delivery,
        "x-hub-signature-256": signature,
    }
    return httpx.post(f"{daemon.url}/v1/webhooks/github", content=body, headers=headers, timeout=10)


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    server = RecordingSink().start()
    yield server
    server.stop()


def test_hostile_events_steer_nothing(tmp_path: Path, sink: RecordingSink) -> None:
    daemon = Daemon(
        config=write_config(tmp_path, sink), data=tmp_path / "data", env={"TARGET_TOKEN": TARGET_TOKEN}
    ).start()
    try:
        good = daemon.notify(service="shop", environment="production", version=HEALTHY, artifact=GOOD)
        assert daemon.wait_state(good, {"passed", "failed", "inconclusive"}, timeout=40)["state"] == "passed"

        for version in HOSTILE_VERSIONS:
            dep = daemon.notify(
                service="shop",
                environment="production",
                version=version,
                previous_version="0.0.1-backdoor",
                previous_artifact=BACKDOOR,
            )
            done = daemon.wait_state(
                dep, {"rolled_back", "rollback_failed", "passed", "inconclusive"}, timeout=60
            )
            assert done["state"] == "rolled_back", (version, done["state"], done.get("reasons"))
            # The rollback restores what passed verification, never the event's previous_artifact.
            assert done["rollback"]["to_artifact"] == GOOD and done["rollback"]["to_version"] == HEALTHY
            assert done["version"] == version  # stored as data, exactly as sent

        refused = [
            json.dumps(
                {"service": "shop", "environment": "production", "version": "1.0\nX-Evil: 1"}
            ).encode(),
            json.dumps(
                {
                    "service": "shop",
                    "environment": "production",
                    "version": "2",
                    "deployed_at": "0001-01-01T00:00:00Z",
                }
            ).encode(),
            b'{"service": "shop", "environment": "production", "version": "3", "n": ' + b"9" * 5000 + b"}",
            b'{"service": "shop", "labels": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
            json.dumps({"service": "shop", "environment": "production", "version": "4\u0000"}).encode(),
        ]
        for body in refused:
            resp = post_signed(daemon, body)
            assert 400 <= resp.status_code < 500, (body[:80], resp.status_code, resp.text)

        # A captured GitHub delivery, replayed under new delivery ids, is one deployment.
        payload = {
            "deployment_status": {"id": 77, "state": "success", "environment": "production"},
            "deployment": {
                "id": 42,
                "sha": "f" * 40,
                "ref": "main",
                "payload": {"service": "shop", "version": HEALTHY, "artifact": GOOD},
            },
            "repository": {"name": "shop", "full_name": "acme/shop"},
        }
        answers = [post_github(daemon, payload, delivery=str(uuid.uuid4())) for _ in range(3)]
        assert answers[0].status_code == 202
        assert len({a.json()["deployment_id"] for a in answers}) == 1
        log = daemon.log.read_text()
    finally:
        daemon.stop()

    secrets = [ADMIN, SECRET, SECRET.removeprefix("whsec_"), KNOWN_SECRET]
    deploy_calls = 0
    for request in sink.recorded():
        parts = urlsplit(request.path)
        segments = [unquote(s) for s in parts.path.split("/")]
        dumped = json.dumps([request.path, request.headers, request.body])
        for secret in secrets:
            assert secret not in dumped and secret not in unquote(dumped), (secret, request.path)
        if TARGET_TOKEN in dumped:
            # The target's token goes only where its config puts it.
            assert segments[1] == "deploy" and request.headers["authorization"] == f"Bearer {TARGET_TOKEN}"
            assert TARGET_TOKEN not in json.dumps([request.path, request.body])
        if segments[1] == "svc":
            assert len(segments) == 4 and segments[3] == "healthz", request.path
            version = segments[2]
            assert parse_qs(parts.query) == {"v": [version]} and request.headers["x-version"] == version
        elif segments[1] == "prom":
            assert parts.path in ("/prom/api/v1/query", "/prom/api/v1/query_range"), request.path
            promql = parse_qs(parts.query)["query"][0]
            # One matcher holding the whole version: no clause was added, nothing was commented out.
            assert query_version(promql) in [HEALTHY, *HOSTILE_VERSIONS], promql
        else:
            assert segments[1] == "deploy" and len(segments) == 4 and segments[3] == "restore", request.path
            deploy_calls += 1
            assert segments[2] in HOSTILE_VERSIONS
            assert parse_qs(parts.query) == {"to": [GOOD]}
            assert request.body == {"restore": GOOD, "failed": segments[2]}
    assert deploy_calls == len(HOSTILE_VERSIONS)
    assert "Traceback" not in log and "OverflowError" not in log


def test_nul_and_oversized_values_are_4xx_on_postgresql(
    tmp_path: Path, sink: RecordingSink, pg_url: str
) -> None:
    from tests.store.conftest import fresh_pg_database

    with fresh_pg_database() as database:
        env = {
            "TARGET_TOKEN": TARGET_TOKEN,
            "WATCHDOG_DATABASE_URL": database,
            "WATCHDOG_AUTO_MIGRATE": "true",
        }
        daemon = Daemon(config=write_config(tmp_path, sink), data=tmp_path / "data", env=env).start()
        try:
            base = {"service": "shop", "environment": "production"}
            bodies = [
                {**base, "version": "1\u0000"},
                {**base, "version": "1", "labels": {"team": "a\u0000b"}},
                {**base, "version": "1", "deployer": "ci\u0000"},
                {**base, "version": "1", "commit": "c" * 101},
                {**base, "version": "1", "deployed_at": "9999-12-31T23:59:59Z"},
            ]
            for body in bodies:
                resp = post_signed(daemon, json.dumps(body).encode())
                assert 400 <= resp.status_code < 500, (body, resp.status_code, resp.text)
            # An ignored delivery is stored too: a NUL in what it quotes must not reach PostgreSQL.
            payload = {"deployment_status": {"id": 1, "state": "pend\u0000ing"}, "deployment": {"id": 2}}
            resp = post_github(daemon, payload, delivery="gh-nul")
            assert resp.status_code == 200, resp.text
            assert httpx.get(f"{daemon.url}/readyz", timeout=5).status_code == 200
            log = daemon.log.read_text()
        finally:
            daemon.stop()
    assert "Traceback" not in log
