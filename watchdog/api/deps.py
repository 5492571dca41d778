"""What routes ask FastAPI for: the Runtime, an authenticated operator, and a size-capped raw body.

The admin token is compared in constant time; an unset token turns the admin API off.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from watchdog.api.errors import refuse
from watchdog.engine.runtime import Runtime
from watchdog.intake.refusals import check_content_length, payload_too_large

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
    token = runtime.settings.admin_token
    if token is None:
        raise refuse(403, "forbidden", "admin API disabled: set WATCHDOG_ADMIN_TOKEN")
    if credentials is None or not credentials.credentials:
        raise refuse(401, "unauthorized", "Authorization: Bearer <admin token> required")
    if not hmac.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode()):
        raise refuse(403, "forbidden", "the admin token does not match")
    return "admin-api"


AdminDep = Annotated[str, Depends(require_admin)]


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
