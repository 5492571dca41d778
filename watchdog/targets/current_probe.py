"""The optional `current` probe of a webhook or command target: GET the service's version endpoint.

For targets whose deploy happens elsewhere: a retried rollback asks it what runs before calling again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import httpx

from watchdog.policy.connections import CurrentProbe
from watchdog.policy.secrets import expand_env
from watchdog.redact import redact
from watchdog.targets.base import Current, RollbackRequest
from watchdog.templating import Context, TemplateError, render

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def field_at(data: Any, path: str) -> str | None:
    """`a.b.c` inside a JSON object; None when any step is missing or the value is not a scalar."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return None if isinstance(data, dict | list) or data is None else str(data)


async def probe_current(
    probe: CurrentProbe,
    req: RollbackRequest,
    *,
    target: str,
    environ: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Current:
    env = environ if environ is not None else os.environ
    # Only service and environment fill the URL (percent-encoded by the renderer): never the versions an
    # event carried. `${NAME}` is expanded in the configured text first, never inside a filled value.
    values = {"service": req.service, "environment": req.environment}
    try:
        url = render(probe.url, values, context=Context.URL, environ=env, expand_env=True)
    except TemplateError as exc:
        return Current(artifact=None, detail=_hide(f"target {target}: the current probe's URL: {exc}", []))
    headers = {k: expand_env(v, environ=env) for k, v in probe.headers.items()}
    refs = [probe.url, *probe.headers.values()]
    secrets = [env.get(m.group(1)) for v in refs for m in _ENV_REF.finditer(v)]
    try:
        async with httpx.AsyncClient(timeout=probe.timeout, transport=transport) as client:
            resp = await client.get(url, headers=headers)
        resp.raise_for_status()
        data = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        return Current(
            artifact=None,
            detail=_hide(f"target {target}: the current probe failed: {type(exc).__name__}: {exc}", secrets),
        )
    version = field_at(data, probe.version_field) if probe.version_field else None
    artifact = field_at(data, probe.artifact_field) if probe.artifact_field else None
    return Current(
        artifact=artifact,
        version=version,
        detail=_hide(f"target {target}: {url} reports {version or artifact}", secrets),
    )


def _hide(text: str, secrets: list[str | None]) -> str:
    """A `${NAME}` value in the URL or a header never reaches a detail line."""
    text = redact(text)
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text
