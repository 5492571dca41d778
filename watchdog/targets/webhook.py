"""Webhook target: asks another system (GitHub workflow_dispatch, a CD API) to redeploy, with a JSON body.

A 2xx answer is success. The receiver does the deploy, so this target cannot tell what runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
from typing import Any

import httpx

from watchdog.errors import TargetError, WatchdogError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.connections import WebhookTargetConfig
from watchdog.targets.base import Current, RollbackRequest, RollbackResult
from watchdog.targets.current_probe import probe_current
from watchdog.targets.retry import Backoff, raise_for_status, transport_error, with_retries
from watchdog.targets.rollback_memo import RollsBackOnce
from watchdog.targets.transcript import RetryNotes, Transcript, excerpt
from watchdog.templating import (
    TARGET_NAMES,
    Context,
    check_templates,
    env_names,
    render,
    render_json,
    strings_in,
)


def idempotency_key(req: RollbackRequest) -> str:
    """Stable across retries and restarts for one (failed deploy, artifact): receivers may dedupe on it."""
    digest = hashlib.sha256(f"{req.deployment_id}\n{req.artifact}".encode()).hexdigest()
    return f"watchdog-rollback-{digest[:32]}"


class WebhookTarget(RollsBackOnce[WebhookTargetConfig]):
    def __init__(
        self,
        name: str,
        config: WebhookTargetConfig,
        *,
        plumbing: Plumbing = BARE,
        poll_interval: float = 2.0,  # unused: the receiver reports nothing to poll; one constructor shape
        backoff: Backoff | None = None,
    ) -> None:
        templates = [
            (config.url, Context.URL),
            *((v, Context.HEADER) for v in config.headers.values()),
            *((s, Context.JSON) for s in strings_in(config.body)),
        ]
        check_templates(templates, known=TARGET_NAMES, where=f"target {name}")
        super().__init__(name, config, plumbing)
        self._backoff = dataclasses.replace(backoff or Backoff(), attempts=config.retries + 1)
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        """One long-lived client per target: building one (and its SSL context) per call cost 35-60 ms.

        A client's connections belong to the loop that opened them, so another loop gets its own client.
        """
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient(timeout=self.config.timeout, transport=self._transport)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def current(self, req: RollbackRequest) -> Current:
        if self.config.current is not None:
            return await probe_current(
                self.config.current, req, target=self.name, environ=self._environ, transport=self._transport
            )
        return Current(artifact=None, detail=f"webhook target {self.name} cannot tell what runs")

    def _fill(self, template: str, req: RollbackRequest, log: Transcript, *, context: Context) -> str:
        """`${NAME}` from the environment and placeholders in one pass: a value is never env-expanded."""
        environ = self._environ if self._environ is not None else os.environ
        log.add_secret(*(environ.get(name) for name in env_names(template)))
        return render(template, req.placeholders(), context=context, environ=environ, expand_env=True)

    async def _perform(self, req: RollbackRequest) -> RollbackResult:
        """Sends the templated request; a transient answer is asked again, a read timeout never."""
        log = Transcript()
        notes = RetryNotes(log, indent="  ")
        try:
            url = self._fill(self.config.url, req, log, context=Context.URL)
            headers = {
                k: self._fill(v, req, log, context=Context.HEADER) for k, v in self.config.headers.items()
            }
            body = render_json(self.config.body, req.placeholders())
            lower = {k.lower() for k in headers}
            if "content-type" not in lower:
                headers["Content-Type"] = "application/json"
            if "idempotency-key" not in lower:
                headers["Idempotency-Key"] = idempotency_key(req)
            send = self._sender(
                self._http(), log, method=self.config.method, url=url, headers=headers, body=body
            )
            resp = (await with_retries(send, backoff=self._backoff, on_retry=notes)).value
            ok, detail = True, f"{self.config.method} {url} answered {resp.status_code}{_run_link(resp)}"
        except WatchdogError as exc:
            ok, detail = False, str(exc)
        return RollbackResult(ok=ok, detail=log.clean(detail), output=log.text(), attempts=notes.attempts)

    def _sender(
        self,
        client: httpx.AsyncClient,
        log: Transcript,
        *,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
    ) -> Any:
        content = json.dumps(body).encode()

        async def once() -> httpx.Response:
            try:
                resp = await client.request(method, url, content=content, headers=headers)
            except httpx.ReadTimeout:
                log.note(f"{method} {url} -> no answer within {self.config.timeout:g} s")
                # The request arrived; the receiver may be deploying now. Asking again could deploy twice.
                raise TargetError(
                    f"{method} {url}: no answer within {self.config.timeout:g} s; not retried, because "
                    "the receiver may already have acted on it"
                ) from None
            except httpx.TransportError as exc:
                log.note(f"{method} {url} -> {type(exc).__name__}")
                raise transport_error(exc, what=f"{method} {url}") from None
            log.exchange(resp)
            raise_for_status(resp, what=f"{method} {url}", message=excerpt(resp.text, limit=200))
            return resp

        return once


def _run_link(resp: httpx.Response) -> str:
    """GitHub's workflow_dispatch with return_run_details answers the run's URL: worth a click."""
    try:
        data = resp.json() if resp.content else None
    except ValueError:
        return ""
    link = data.get("html_url") or data.get("run_url") if isinstance(data, dict) else None
    return f" ({link})" if isinstance(link, str) else ""
