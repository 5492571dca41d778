"""The checks of a request's headers that need no secret: declared size, content type, required headers.

Run before the body is read (size) or parsed; each refusal names the header and what it should hold.
"""

from __future__ import annotations

from collections.abc import Mapping

from watchdog.errors import IntakeError
from watchdog.intake.refusals import bad_signature, missing_header, payload_too_large


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
