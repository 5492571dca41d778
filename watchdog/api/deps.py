"""What routes ask FastAPI for: the Runtime, an authenticated operator, a reader, and a size-capped raw body.

Tokens are compared in constant time; an unset admin token turns the admin API off, a read token locks reads.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from watchdog.api.errors import refuse
from watchdog.engine.runtime import Runtime
from watchdog.intake.headers import check_content_length
from watchdog.intake.refusals import payload_too_large

P = ParamSpec("P")
R = TypeVar("R")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_bearer = HTTPBearer(auto_error=False, description="WATCHDOG_ADMIN_TOKEN")


def require_admin(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Who is acting, for transitions and freezes: `admin-api` (the token names no person)."""
    token = runtime.settings.secrets.admin_token
    if token is None:
        raise refuse(403, "forbidden", "admin API disabled: set WATCHDOG_ADMIN_TOKEN")
    if credentials is None or not credentials.credentials:
        raise refuse(401, "unauthorized", "Authorization: Bearer <admin token> required")
    if not hmac.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode()):
        raise refuse(403, "forbidden", "the admin token does not match")
    return "admin-api"


AdminDep = Annotated[str, Depends(require_admin)]

# Probes and scrapes stay open, as does the API's description (it holds no data).
OPEN_READS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"})
_CHALLENGE = [
    (b"www-authenticate", b'Basic realm="Deploy Watchdog", charset="UTF-8"'),
    (b"content-type", b"application/json"),
]


def presented_token(authorization: str) -> str | None:
    """`Bearer T`, or Basic with T as the password (what a browser sends after its login prompt)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, ValueError):
            return None
        return decoded.partition(":")[2] or None
    return None


class ReadGuard:
    """ASGI middleware: with WATCHDOG_READ_TOKEN set, every GET/HEAD outside OPEN_READS needs it (or the
    admin token). A browser gets a Basic challenge, so the dashboard and its fetches work after one prompt."""

    def __init__(self, app: Any, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        settings = self.runtime.settings
        if (
            scope["type"] != "http"
            or settings.secrets.read_token is None
            or scope["method"] not in ("GET", "HEAD")
            or scope["path"] in OPEN_READS
        ):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or ()).get(b"authorization", b"").decode("latin-1")
        given = presented_token(header)
        allowed = [
            t.get_secret_value()
            for t in (settings.secrets.read_token, settings.secrets.admin_token)
            if t is not None
        ]
        # Every candidate is compared, so timing says nothing about which one (if any) matched.
        matched = False
        for token in allowed:
            matched |= given is not None and hmac.compare_digest(given.encode(), token.encode())
        if matched:
            await self.app(scope, receive, send)
            return
        words = "the read token does not match" if given else "reads need the read token"
        body = json.dumps(
            {"error": "unauthorized", "detail": f"{words}: Authorization: Bearer <WATCHDOG_READ_TOKEN>"}
        ).encode()
        await send({"type": "http.response.start", "status": 401, "headers": _CHALLENGE})
        await send({"type": "http.response.body", "body": body})


async def read_body(request: Request, *, limit: int) -> bytes:
    """The raw body, refused with 413 on Content-Length alone or as soon as more than `limit` arrive."""
    check_content_length(request.headers.get("content-length"), limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        # A sender may lie about Content-Length or stream chunked: count what actually arrives.
        if size > limit:
            raise payload_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def in_thread(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Store calls are synchronous: keep them off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
