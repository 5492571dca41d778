"""POST /v1/events and /v1/webhooks/{github,gitlab,argocd}: authenticate, parse, deduplicate, accept.

A refused request writes nothing; a repeated delivery id answers the first answer and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from watchdog.api.deps import in_thread, read_body
from watchdog.api.errors import ERROR_RESPONSES, refuse
from watchdog.api.intake_batcher import IntakeBatcher
from watchdog.api.views import AcceptedBody, ErrorBody, IgnoredBody
from watchdog.engine.runtime import Runtime
from watchdog.errors import IntakeError
from watchdog.events import DeployEvent
from watchdog.intake import PARSERS
from watchdog.intake.headers import check_content_length, check_content_type
from watchdog.policy.interned import shared_document
from watchdog.policy.policyset import PolicySet
from watchdog.store.intake_repo import AnsweredBefore

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)


def _runtime(request: Request) -> Runtime:
    """The app's Runtime, read directly: a sync FastAPI dependency would cost a thread hop per event."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def _secret(runtime: Runtime, source: str) -> str | None:
    s = runtime.settings.secrets
    value = {
        "generic": s.webhook_secret,
        "github": s.github_webhook_secret,
        "gitlab": s.gitlab_webhook_token,
        "argocd": s.argocd_webhook_token,
    }[source]
    return value.get_secret_value() if value is not None else None


# (policy set, service, environment) -> its dumped policy: dumping a policy model costs more than storing
# the event, and a policy set never changes (a reload makes a new one, and a new cache with it).
# Bounded: the key comes from event fields, and a policy may accept any environment name.
_DUMPED: dict[tuple[int, str, str], dict[str, Any]] = {}
_DUMPED_OF: list[object] = []
_DUMPED_MAX = 20_000  # more (service, environment) pairs than a fleet has; past it, start afresh


def _policy(runtime: Runtime, event: DeployEvent) -> dict[str, Any]:
    """The resolved policy stored with the deployment, so a later reload cannot change a running verdict."""
    policies = runtime.policies.current
    if not _DUMPED_OF or _DUMPED_OF[0] is not policies:
        _DUMPED.clear()
        _DUMPED_OF[:] = [policies]
    key = (id(policies), event.service, event.environment)
    dumped = _DUMPED.get(key)
    if dumped is None:
        if len(_DUMPED) >= _DUMPED_MAX:
            _DUMPED.clear()
        dumped = _DUMPED[key] = _dump_policy(policies, event)
    return dumped


def _policy_refusal(runtime: Runtime, event: DeployEvent) -> IntakeError | None:
    """The 422 that _policy would raise for this event, or None when a policy applies."""
    try:
        _policy(runtime, event)
    except IntakeError as exc:
        return exc
    return None


def _dump_policy(policies: PolicySet, event: DeployEvent) -> dict[str, Any]:
    policy = policies.policy(event.service, event.environment)
    if policy is None:
        if event.service not in policies.services:
            raise refuse(
                422, "unknown_service", f"service: no policy for {event.service} in config/services/"
            )
        known = ", ".join(policies.environments(event.service)) or "none"
        raise refuse(
            422,
            "unknown_environment",
            f"environment: {event.service} has no policy for {event.environment} (known: {known})",
        )
    # Shared with every environment whose policy dumps equal (a fleet's environments mostly do).
    return shared_document(policy.model_dump(mode="json", by_alias=True))


def _write_lock(request: Request) -> asyncio.Lock | contextlib.nullcontext[None]:
    """SQLite has one writer: queueing writes here beats threads spinning in its busy handler."""
    lock: asyncio.Lock | None = getattr(request.app.state, "intake_write_lock", None)
    return lock if lock is not None else contextlib.nullcontext()


def _batcher(request: Request, runtime: Runtime) -> IntakeBatcher:
    """The app's one group-commit batcher, made on first use (inside the running loop)."""
    batcher: IntakeBatcher | None = getattr(request.app.state, "intake_batcher", None)
    if batcher is None:
        lock: asyncio.Lock | None = getattr(request.app.state, "intake_write_lock", None)
        batcher = request.app.state.intake_batcher = IntakeBatcher(runtime.store, lock=lock)
    return batcher


async def receive(source: str, request: Request, runtime: Runtime) -> JSONResponse:
    counter = runtime.metrics.events
    store = runtime.store
    try:
        # Header-only checks first: nothing is read from an oversized or non-JSON request.
        limit = runtime.settings.intake.max_body_bytes
        check_content_length(request.headers.get("content-length"), limit=limit)
        check_content_type(request.headers.get("content-type"))
        body = await read_body(request, limit=limit)
        now = runtime.clock.now()
        intake = PARSERS[source](
            headers=request.headers,
            body=body,
            secret=_secret(runtime, source),
            now=now,
            query=dict(request.query_params),
        )
        if intake.event is None or _policy_refusal(runtime, intake.event) is not None:
            # A repeat answers the first answer even if the policy has gone since. An accepted event's
            # repeat needs no look-up here: its delivery insert fails inside the batch and answers then.
            first = await in_thread(store.find_delivery, source=source, delivery_id=intake.delivery_id)
            if first is not None:
                counter.labels(source, "duplicate").inc()
                return JSONResponse(first.response, status_code=first.status_code)
        if intake.event is None:
            answer = IgnoredBody(reason=intake.ignored_reason or "ignored").model_dump()
            async with _write_lock(request):
                if intake.ci_run is not None:  # a finished CI pipeline: kept for the gate
                    row = await in_thread(
                        store.record_ci_run,
                        source=source,
                        delivery_id=intake.delivery_id,
                        response=answer,
                        **vars(intake.ci_run),
                        now=now,
                    )
                else:
                    row = await in_thread(
                        store.record_delivery,
                        source=source,
                        delivery_id=intake.delivery_id,
                        status_code=200,
                        response=answer,
                        now=now,
                    )
            counter.labels(source, "ignored").inc()
            return JSONResponse(row.response, status_code=row.status_code)
        policy = _policy(runtime, intake.event)
    except IntakeError as exc:
        counter.labels(source, exc.code).inc()
        raise
    # Group commit: answered 202 only once the batch holding this event has committed.
    try:
        accepted = await _batcher(request, runtime).accept(
            event=intake.event, source=source, delivery_id=intake.delivery_id, policy=policy, now=now
        )
    except AnsweredBefore as repeat:  # the first delivery of this id was ignored: that answer stands
        counter.labels(source, "duplicate").inc()
        return JSONResponse(repeat.delivery.response, status_code=repeat.delivery.status_code)
    if accepted.duplicate:
        counter.labels(source, "duplicate").inc()
        return JSONResponse(accepted.response, status_code=accepted.status_code)
    runtime.engine.wake()
    counter.labels(source, "accepted").inc()
    accepted_body = AcceptedBody(deployment_id=accepted.deployment.id, state="pending")
    return JSONResponse(accepted_body.model_dump(), status_code=202)


_EVENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": AcceptedBody, "description": "accepted: a verification is pending"},
    200: {"model": IgnoredBody, "description": "acknowledged and ignored, with the reason"},
    400: {"model": ErrorBody, "description": "malformed_json, missing_header"},
    401: {"model": ErrorBody, "description": "bad_signature, stale_timestamp"},
    403: {"model": ErrorBody, "description": "not_configured: the route's secret is not set"},
    413: {"model": ErrorBody, "description": "payload_too_large"},
    415: {"model": ErrorBody, "description": "unsupported_media_type"},
    422: {"model": ErrorBody, "description": "invalid_event, unknown_service, unknown_environment"},
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_GENERIC_DOC = """A deploy event, signed the Standard Webhooks way with WATCHDOG_WEBHOOK_SECRET:
`webhook-id` (the idempotency key), `webhook-timestamp` (unix seconds, +/- 5 minutes) and
`webhook-signature` (`v1,<base64 HMAC-SHA256>` of `id.timestamp.body`)."""


# (source, path, endpoint name, request body schema, description): one receiving route per intake format.
_ROUTES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("generic", "/v1/events", "post_event", DeployEvent.model_json_schema(), _GENERIC_DOC),
    (
        "github",
        "/v1/webhooks/github",
        "post_github",
        {"type": "object"},
        "GitHub `deployment_status` webhooks, signed with X-Hub-Signature-256.",
    ),
    (
        "gitlab",
        "/v1/webhooks/gitlab",
        "post_gitlab",
        {"type": "object"},
        "GitLab Deployment Hooks (verified) and Pipeline Hooks (kept for the gate), authenticated "
        "by X-Gitlab-Token; `?service=` overrides the name.",
    ),
    (
        "argocd",
        "/v1/webhooks/argocd",
        "post_argocd",
        {"type": "object"},
        "Our argocd-notifications template (docs/integrations.md); header X-Watchdog-Token.",
    ),
]


def _receiver(source: str) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def post(request: Request) -> JSONResponse:
        return await receive(source, request, _runtime(request))

    return post


for _source, _path, _name, _schema, _doc in _ROUTES:
    # The endpoint's name keeps each operation's id in the OpenAPI document (post_github_v1_webhooks_...).
    router.add_api_route(
        _path,
        _receiver(_source),
        methods=["POST"],
        name=_name,
        status_code=202,
        response_model=None,
        responses=_EVENT_RESPONSES,
        openapi_extra=_body(_schema),
        description=_doc,
    )
