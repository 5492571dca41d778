"""One rollback's conversation with a JSON API (Kubernetes, Argo CD): retried requests, logged and bounded.

Every request is retried on transient errors with backoff, never past the rollback's overall deadline.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import httpx

from watchdog.errors import TargetError
from watchdog.targets.retry import Backoff, raise_for_status, transport_error, with_retries
from watchdog.targets.transcript import RetryNotes, Transcript


def error_message(resp: httpx.Response) -> str:
    """`message` (Kubernetes Status, grpc-gateway) or `error` of a JSON error body, else a short excerpt."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if message:
            reason = body.get("reason")
            return f"{reason}: {message}" if isinstance(reason, str) and reason else str(message)
    return resp.text[:200]


def json_client(
    log: Transcript,
    *,
    base_url: str,
    bearer: str | None,
    verify: ssl.SSLContext | bool,
    timeout: httpx.Timeout,
    transport: httpx.AsyncBaseTransport | None,
    auth: httpx.Auth | None = None,
) -> httpx.AsyncClient:
    """A client of a JSON API as deploy-watchdog; its bearer token is masked in the rollback's transcript."""
    headers = {"Accept": "application/json", "User-Agent": "deploy-watchdog"}
    if bearer is not None:
        log.add_secret(bearer)
        headers["Authorization"] = f"Bearer {bearer}"
    return httpx.AsyncClient(
        base_url=base_url, headers=headers, verify=verify, timeout=timeout, transport=transport, auth=auth
    )


@dataclass
class JsonApi:
    """`retries` counts the requests that were asked again, for RollbackResult.attempts."""

    client: httpx.AsyncClient
    log: Transcript
    _: KW_ONLY
    backoff: Backoff
    deadline: float | None = None
    describe: Callable[[httpx.Response], str] = error_message
    retries: int = field(default=0, init=False)

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        quiet: bool = False,
    ) -> dict[str, Any]:
        """The JSON object answered; `quiet` leaves successful answers out of the log (polls)."""

        async def once() -> dict[str, Any]:
            content = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": content_type} if content is not None else {}
            try:
                resp = await self.client.request(method, url, content=content, headers=headers)
            except httpx.TransportError as exc:
                self.log.note(f"{method} {url} -> {type(exc).__name__}")
                raise transport_error(exc, what=f"{method} {url}") from None
            if not (quiet and resp.is_success):
                # Whole objects are long and say nothing new: keep the bodies of failures only.
                self.log.exchange(resp, body=not resp.is_success)
            if not resp.is_success:
                raise_for_status(resp, what=f"{method} {url}", message=self.describe(resp))
            try:
                data = resp.json()
            except ValueError:
                raise TargetError(f"{method} {url}: the answer is not JSON") from None
            if not isinstance(data, dict):
                raise TargetError(f"{method} {url}: expected a JSON object")
            return data

        notes = RetryNotes(self.log, indent="  ")
        try:
            done = await with_retries(once, backoff=self.backoff, deadline=self.deadline, on_retry=notes)
        finally:
            self.retries += notes.attempts - 1  # counted on failure too: each retry was a request
        return done.value
