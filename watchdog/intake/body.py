"""From a request body to a DeployEvent: the JSON object, the event model, and pydantic's errors in the
words a sender reads, with the paths of the sender's own payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from watchdog.events import DeployEvent
from watchdog.intake.fields import load_json
from watchdog.intake.refusals import invalid


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
