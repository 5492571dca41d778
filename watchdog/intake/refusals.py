"""Every way intake refuses a request, as IntakeError(status, code, detail) with words a sender can act on.

Also the checks that need no secret (size, content type, JSON shape) and pydantic errors turned into paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from watchdog.errors import IntakeError
from watchdog.events import DeployEvent
from watchdog.intake.fields import load_json


def bad_signature(detail: str) -> IntakeError:
    return IntakeError(401, "bad_signature", detail)


def stale_timestamp(detail: str) -> IntakeError:
    return IntakeError(401, "stale_timestamp", detail)


def not_configured(what: str, setting: str) -> IntakeError:
    return IntakeError(403, "not_configured", f"{what} is disabled: set {setting}")


def missing_header(name: str) -> IntakeError:
    return IntakeError(400, "missing_header", f"{name}: header required")


def invalid(detail: str) -> IntakeError:
    return IntakeError(422, "invalid_event", detail)


def payload_too_large(limit: int) -> IntakeError:
    return IntakeError(413, "payload_too_large", f"the body is larger than {limit} bytes")


def check_content_length(value: str | None, *, limit: int) -> None:
    """Refuses on the declared length alone, before a byte of the body is read."""
    if value is None:
        return
    try:
        declared = int(value)
    except ValueError:
        raise IntakeError(400, "bad_request", "Content-Length: expected a number") from None
    if declared > limit:
        raise payload_too_large(limit)


def check_content_type(value: str | None) -> None:
    media = (value or "").split(";", 1)[0].strip().lower()
    # application/json and structured-syntax types such as application/vnd.x+json.
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    shown = media or "none"
    raise IntakeError(415, "unsupported_media_type", f"Content-Type {shown}: expected application/json")


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (bounded: intake/fields.py); only called once the sender is authenticated."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise invalid("body: expected a JSON object")
    return data


# pydantic error types -> the words a sender reads.
_WORDS = {
    "missing": "field required",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "dict_type": "expected an object",
    "extra_forbidden": "unknown field",
    "string_too_short": "must not be empty",
    "datetime_type": "expected an ISO 8601 date-time",
    "datetime_parsing": "expected an ISO 8601 date-time",
    "datetime_from_date_parsing": "expected an ISO 8601 date-time",
}


def describe(errors: Sequence[Mapping[str, Any]], *, paths: Mapping[str, str] | None = None) -> str:
    """`version: field required; labels.team: expected a string`, with paths of the sender's payload.

    Takes pydantic's `errors()` list, so FastAPI's request validation errors read the same way.
    """
    parts: list[str] = []
    for error in errors:
        loc_parts = [str(p) for p in error.get("loc", ())]
        loc = ".".join(loc_parts) or "body"
        top = loc_parts[0] if loc_parts else ""
        if paths and top in paths:
            loc = paths[top] + loc[len(top) :]
        kind = str(error.get("type", ""))
        ctx = error.get("ctx") or {}
        if kind == "string_pattern_mismatch":
            words = f"must match {ctx.get('pattern')}"
        elif kind == "string_too_long":
            words = f"at most {ctx.get('max_length')} characters"
        else:
            words = _WORDS.get(kind, str(error.get("msg", "invalid")).lower())
        parts.append(f"{loc}: {words}")
    return "; ".join(parts)


def build_event(data: Mapping[str, Any], *, paths: Mapping[str, str] | None = None) -> DeployEvent:
    try:
        return DeployEvent.model_validate(dict(data))
    except ValidationError as exc:
        raise invalid(describe(exc.errors(include_url=False), paths=paths)) from None


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def require_header(headers: Mapping[str, str], name: str, *, max_len: int = 200, auth: bool = False) -> str:
    """A lower-cased header map's value; idempotency keys must fit the deliveries table.

    A missing header that authenticates the sender (`auth`) is a 401, any other a 400.
    """
    value = headers.get(name.lower(), "").strip()
    if not value:
        raise bad_signature(f"{name}: header required") if auth else missing_header(name)
    if len(value) > max_len:
        raise IntakeError(400, "bad_request", f"{name}: at most {max_len} characters")
    return value
