"""Every refusal the API makes has one body: `{"error": code, "detail": words}`, FastAPI's own 422 too.

Handlers for IntakeError (API refusals), Refused (the engine's refused operator actions, a 409), NotFound,
StoreError and HTTP errors: the only place a domain error becomes an HTTP status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from watchdog.api.views import ErrorBody
from watchdog.errors import IntakeError, NotFound, Refused, StoreError
from watchdog.intake.body import describe
from watchdog.store.health import RETRY_AFTER_S, StoreUnavailable

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

# Declared on every route so the OpenAPI schema matches what the handlers below answer.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "a field is missing or wrong (its path is in detail)"},
}


def error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def refuse(status: int, code: str, detail: str) -> IntakeError:
    """An API refusal with its HTTP status; the engine never raises these (it raises Refused)."""
    return IntakeError(status, code, detail)


async def _intake_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntakeError)
    return error(exc.status, exc.code, exc.detail)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return error(409, exc.code, exc.reason)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return error(404, "not_found", str(exc) or "no such resource")


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("store error on %s %s: %s", request.method, request.url.path, exc)
    detail = "the state store failed; try again"
    if isinstance(exc, StoreUnavailable):
        detail = f"{exc.problem}; nothing was written, try again"
    retry = exc.retry_after if isinstance(exc, StoreUnavailable) else RETRY_AFTER_S
    response = error(503, "store_unavailable", detail)
    # Retry-After: a sender that honours it comes back once the store is healthy, not in a tight loop.
    response.headers["Retry-After"] = str(retry)
    return response


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error(422, "invalid_request", describe(list(exc.errors())))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": code, "detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(IntakeError, _intake_error)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
