"""HTTP plumbing every network source shares: one client, a concurrency limit, timeouts and safe retries.

Failures come out as `SourceError(kind=...)` with a redacted message; metrics are recorded per attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx

from watchdog import faults, looplag, resilience
from watchdog.errors import SourceError
from watchdog.plumbing import BARE, Plumbing
from watchdog.redact import redact
from watchdog.resilience import ErrorKind
from watchdog.sources.transport import AiohttpTransport

# Retrying a non-idempotent request could act twice upstream; only reads are retried.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


def status_kind(status: int) -> str:
    """The metrics label of an HTTP status that is an error."""
    return resilience.status_kind(status).value


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (delta-seconds or an HTTP date); None when absent or unreadable."""
    return resilience.retry_after(response.headers)


class _RetryableAnswer(Exception):
    """An answer whose status may heal (429, 5xx), carried through the retry loop; `hint` is Retry-After."""

    def __init__(self, response: httpx.Response, hint: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.hint = hint


class SourceHttp:
    """One source's HTTP client: created lazily on first use (inside the running loop), closed by aclose()."""

    def __init__(
        self,
        *,
        source: str,
        timeout: float,
        concurrency: int = 8,
        retries: int = 0,
        plumbing: Plumbing = BARE,
        base_url: str = "",
        backoff: float = 0.25,
        max_retry_after: float = 5.0,
    ) -> None:
        self.source = source
        self.timeout = timeout
        self.retries = retries
        self.metrics = plumbing.metrics
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._base_url = base_url
        self._transport = plumbing.transport
        self._concurrency = concurrency
        self._semaphore = asyncio.Semaphore(concurrency)
        self._client: httpx.AsyncClient | None = None

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            # An injected transport (tests) as given; otherwise aiohttp's pool, a fraction of httpcore's
            # CPU per request (docs/performance.md, "The HTTP path"), sized to the same concurrency.
            transport = self._transport or AiohttpTransport(limit=self._concurrency)
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                timeout=httpx.Timeout(self.timeout),
                transport=transport,
                follow_redirects=False,
                # For httpx's own transports (proxy mounts from the environment): no more connections than
                # requests allowed at once, as the aiohttp connector's limit.
                limits=httpx.Limits(
                    max_connections=self._concurrency, max_keepalive_connections=self._concurrency
                ),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        check_status: bool = True,
    ) -> httpx.Response:
        """Sends one request (retrying idempotent reads); with check_status, a status >= 400 is an error.

        The whole attempt, body included, must finish within `timeout`: a server that trickles bytes
        forever is as dead as one that never answers.
        """
        method = method.upper()
        limit = self.retries if retries is None else retries
        # Exponential with jitter, so many verifications retrying at once do not stampede; a Retry-After
        # longer than max_retry_after is not waited for: the next sample comes anyway.
        backoff = resilience.Backoff(
            attempts=1 + (limit if method in IDEMPOTENT else 0),
            base=self.backoff,
            max_delay=self.max_retry_after,
            jitter=1.0,
            long_hint="give_up",
        )
        wait = self.timeout if timeout is None else timeout

        async def once() -> httpx.Response:
            response = await self._attempt(method, url, params=params, headers=headers, auth=auth, wait=wait)
            if resilience.retryable_status(response.status_code):
                hint = retry_after(response) if response.status_code in (429, 503) else None
                raise _RetryableAnswer(response, hint)
            return response

        def retry_on(exc: Exception) -> resilience.Retry | None:
            if isinstance(exc, _RetryableAnswer):
                return resilience.Retry(after=exc.hint)
            if isinstance(exc, SourceError) and exc.kind in (ErrorKind.CONNECTION, ErrorKind.TIMEOUT):
                return resilience.Retry()
            return None

        try:
            response = (await resilience.with_retries(once, backoff=backoff, retry_on=retry_on)).value
        except _RetryableAnswer as last:
            response = last.response  # out of attempts (or told to wait too long): judge the last answer
        if check_status and response.status_code >= 400:
            kind = status_kind(response.status_code)
            raise SourceError(
                redact(f"HTTP {response.status_code} from {self.source}: {_snippet(response)}"), kind=kind
            )
        return response

    async def _attempt(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        auth: httpx.Auth | None,
        wait: float,
    ) -> httpx.Response:
        queued_at = time.perf_counter()
        kind: str | None = None
        message = ""
        response: httpx.Response | None = None
        async with self._semaphore:
            # The timeout starts here, when the request goes on the wire: time spent queued behind our own
            # concurrency limit is the daemon's, measured apart (looplag.Waited), never the service's.
            started = time.perf_counter()
            since = time.monotonic()
            waited = looplag.current()
            if waited is not None:
                waited.queued_s += started - queued_at
            kwargs: dict[str, Any] = {"params": params, "headers": headers}
            if auth is not None:
                kwargs["auth"] = auth
            try:
                response = await self._send(method, url, kwargs=kwargs, wait=wait)
            except (TimeoutError, httpx.TimeoutException):
                kind, message = ErrorKind.TIMEOUT, f"no answer within {_seconds(wait)}"
            except httpx.ConnectError as exc:
                kind, message = ErrorKind.CONNECTION, _connect_message(exc)
            except httpx.HTTPError as exc:
                kind, message = ErrorKind.TRANSPORT, f"{type(exc).__name__}: {exc}"
            if waited is not None:
                waited.lag_s = max(waited.lag_s, _behind_since(since))
                waited.wire_s = max(waited.wire_s, time.perf_counter() - started)
                waited.network_failure = waited.network_failure or kind in (
                    ErrorKind.TIMEOUT,
                    ErrorKind.CONNECTION,
                    ErrorKind.TRANSPORT,
                )
        elapsed = time.perf_counter() - started
        if response is not None and response.status_code >= 400:
            self._record(outcome="error", kind=status_kind(response.status_code), elapsed=elapsed)
        elif response is not None:
            self._record(outcome="ok", kind=None, elapsed=elapsed)
        else:
            self._record(outcome="error", kind=kind, elapsed=elapsed)
            raise SourceError(redact(message), kind=kind or "error")
        return response

    async def _send(self, method: str, url: str, *, kwargs: dict[str, Any], wait: float) -> httpx.Response:
        """One request within `wait` seconds; a refused or dropped connection is tried once more inside them.

        A burst of connections can overflow a small accept backlog: that says the daemon knocked too hard,
        not that the service is down, so the second try gets whatever is left of the same timeout.
        """
        deadline = time.perf_counter() + wait
        if faults.armed("while_sampling"):  # the overload test's stall, once this request is on the wire
            asyncio.get_running_loop().call_soon(faults.point, "while_sampling")
        async with asyncio.timeout(wait):
            # A SYN dropped by a full backlog is retransmitted by the kernel only after 1 s: the first
            # attempt gives connecting a third of the budget, then a fresh connection gets the rest.
            first = httpx.Timeout(wait, connect=min(1.0, wait / 3))
            try:
                return await self._get_client().request(method, url, timeout=first, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                left = deadline - time.perf_counter()
                if left <= 0.05:
                    raise
                return await self._get_client().request(method, url, timeout=left, **kwargs)

    def _record(self, *, outcome: str, kind: str | None, elapsed: float) -> None:
        if self.metrics is None:
            return
        self.metrics.source_requests.labels(source=self.source, outcome=outcome).inc()
        self.metrics.source_latency.labels(source=self.source).observe(elapsed)
        if kind is not None:
            self.metrics.source_errors.labels(source=self.source, kind=kind).inc()


def _behind_since(since: float) -> float:
    monitor = looplag.monitor()
    return 0.0 if monitor is None else monitor.behind_since(since)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _connect_message(exc: httpx.ConnectError) -> str:
    # anyio reports "All connection attempts failed"; the refusal itself sits in the cause chain.
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    return f"cannot connect: {text}" if text else "cannot connect"


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] + ("..." if len(text) > limit else "") if text else response.reason_phrase
