"""Every way intake refuses a request, as IntakeError(status, code, detail) with words a sender can act on.

The checks that raise them live beside what they check: headers.py, body.py, signatures.py.
"""

from __future__ import annotations

from watchdog.errors import IntakeError


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
