"""The built-in `http` source: probes a health URL and checks its status, body and JSON fields.

A service that is down fails the probe (up=0 with the reason); only our own misconfiguration is an error.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from watchdog.analysis.models import Measurement
from watchdog.errors import ConfigError, SourceError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.checks import HttpCheck
from watchdog.redact import redact
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.httpclient import SourceHttp
from watchdog.templating import Context, render

_MISSING = object()


class HttpSource(Source):
    """Probes `check.url`; values are {"up": 1.0 | 0.0, "latency": seconds}."""

    def __init__(
        self,
        name: str = "http",
        *,
        plumbing: Plumbing = BARE,
        concurrency: int = 32,
    ) -> None:
        self.name = name
        self._environ = plumbing.environ
        # No retries: a probe that needs a second try is exactly what the check is there to notice.
        self._http = SourceHttp(
            source=name, timeout=2.0, concurrency=concurrency, retries=0, plumbing=plumbing
        )

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        if not isinstance(check, HttpCheck):
            return Measurement(error=f"the http source only probes http checks, not {check.type!r}")
        values = ctx.placeholders()
        try:
            # `${NAME}` is read from the policy's own text, in the same pass that fills placeholders.
            env = self._environ
            url = render(check.url, values, context=Context.URL, environ=env, expand_env=True)
            headers = {
                k: render(v, values, context=Context.HEADER, environ=env, expand_env=True)
                for k, v in check.headers.items()
            }
            pattern = re.compile(check.expect.body) if check.expect.body is not None else None
        except (ConfigError, re.error) as exc:
            return Measurement(error=redact(f"check {check.name}: {exc}"))
        started = time.perf_counter()
        try:
            response = await self._http.request(
                check.method, url, headers=headers, timeout=check.timeout, check_status=False
            )
        except SourceError as exc:
            if exc.kind in ("timeout", "connection", "transport"):
                return _down(str(exc), latency=time.perf_counter() - started)
            return Measurement(error=str(exc))
        latency = time.perf_counter() - started
        problem = _judge(check, response, pattern=pattern, values=values)
        if problem is not None:
            return _down(redact(problem), latency=latency)
        return Measurement(values={"up": 1.0, "latency": latency})

    async def aclose(self) -> None:
        await self._http.aclose()


def _down(note: str, *, latency: float) -> Measurement:
    return Measurement(values={"up": 0.0, "latency": latency}, note=note)


def _judge(
    check: HttpCheck, response: httpx.Response, *, pattern: re.Pattern[str] | None, values: dict[str, str]
) -> str | None:
    """Why the answer fails the check's expectations, or None when it meets them all."""
    expect = check.expect
    if response.status_code != expect.status:
        return f"status {response.status_code}, expected {expect.status}"
    if pattern is not None and not pattern.search(response.text):
        return f"body does not match /{pattern.pattern}/"
    if not expect.json_:
        return None
    try:
        body = json.loads(response.text)
    except ValueError:
        return "body is not JSON"
    for path, wanted in _flatten(expect.json_):
        wanted = _render_value(wanted, values)
        actual = _lookup(body, path)
        if actual is _MISSING:
            return f"json has no field '{path}'"
        if not _same(actual, wanted):
            return f"json {path} is {_show(actual)}, expected {_show(wanted)}"
    return None


def _flatten(expected: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts become dotted paths: {"build": {"version": v}} -> [("build.version", v)]."""
    out: list[tuple[str, Any]] = []
    for key, value in expected.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, prefix=path + "."))
        else:
            out.append((path, value))
    return out


def _lookup(body: Any, path: str) -> Any:
    # A literal key holding a dot ("app.version") wins over descending into "app".
    if isinstance(body, dict) and path in body:
        return body[path]
    head, _, rest = path.partition(".")
    if rest and isinstance(body, dict) and head in body:
        return _lookup(body[head], rest)
    if rest and isinstance(body, list) and head.isdigit() and int(head) < len(body):
        return _lookup(body[int(head)], rest)
    return _MISSING


def _render_value(value: Any, values: dict[str, str]) -> Any:
    return render(value, values, context=Context.TEXT) if isinstance(value, str) else value


def _same(actual: Any, wanted: Any) -> bool:
    if actual == wanted and type(actual) is type(wanted):
        return True
    # YAML may say `version: 2` where the service answers "2": compare scalars by their text.
    scalars = (str, int, float)
    if isinstance(actual, scalars) and isinstance(wanted, scalars) and not isinstance(actual, bool):
        return str(actual) == str(wanted)
    return bool(actual == wanted)


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)
