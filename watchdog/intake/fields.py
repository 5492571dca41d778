"""The field rules every webhook kind shares: bounded JSON, printable text, a plausible deployed_at.

A signed event says that a deploy happened; these rules keep what it carries to plain, bounded values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from watchdog.errors import IntakeError
from watchdog.events import DeployEvent

MAX_DEPTH = 32  # nesting of objects and arrays in a body; real payloads stay under 10
MAX_INT_DIGITS = 19  # what a signed 64-bit column holds; Python's own limit (4,300 digits) is a 500
MAX_TEXT = 256  # version and artifact
MAX_LABELS = 64
MAX_LABEL_KEY = 100
MAX_LABEL_VALUE = 1000
PAST = timedelta(days=1)
FUTURE = timedelta(minutes=5)
_TEXT_FIELDS = ("version", "artifact", "previous_version", "previous_artifact", "deployer", "commit")


def refuse(field: str, words: str) -> IntakeError:
    return IntakeError(422, "invalid_event", f"{field}: {words}")


def load_json(body: bytes | str, *, what: str = "the body") -> Any:
    """JSON with bounded integers, finite numbers and bounded nesting; anything else is a 400."""

    def bad(words: str) -> IntakeError:
        return IntakeError(400, "malformed_json", f"{what} is not acceptable JSON: {words}")

    def integer(text: str) -> int:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            raise bad(f"an integer has more than {MAX_INT_DIGITS} digits")
        return int(text)

    def number(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise bad(f"the number {text[:40]} is out of range")
        return value

    def constant(text: str) -> Any:
        raise bad(f"{text} is not a JSON number")

    try:
        data = json.loads(body, parse_int=integer, parse_float=number, parse_constant=constant)
    except RecursionError:
        raise bad(f"nested deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntakeError(400, "malformed_json", f"{what} is not valid JSON: {exc}") from None
    except ValueError as exc:  # what the parser itself refuses beyond the hooks
        raise bad(str(exc)[:200]) from None
    if _depth(data) > MAX_DEPTH:
        raise bad(f"nested deeper than {MAX_DEPTH} levels")
    return data


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def check_event(event: DeployEvent, *, now: datetime, paths: Mapping[str, str] | None = None) -> None:
    """Refuses (422 naming the sender's field) an event whose values are not plain and bounded."""

    def name(field: str) -> str:
        return (paths or {}).get(field, field)

    for field in _TEXT_FIELDS:
        value = getattr(event, field)
        if value is None:
            continue
        limit = MAX_TEXT if field in ("version", "artifact", "previous_version", "previous_artifact") else 200
        if len(value) > limit:
            raise refuse(name(field), f"at most {limit} characters")
        problem = _unprintable(value)
        if problem:
            raise refuse(name(field), problem)
    link = event.changelog_url
    if link is not None and (_unprintable(link) or not link.startswith(("https://", "http://"))):
        raise refuse(name("changelog_url"), "expected an http(s) URL of printable characters")
    _check_labels(event.labels, field=name("labels"))
    _check_time(event.deployed_at, now=now, field=name("deployed_at"))


def printable(value: str) -> str:
    """The text with every unprintable character shown as `?`, for text we store but did not refuse."""
    return "".join(ch if ch.isprintable() else "?" for ch in value)


def _unprintable(value: str) -> str | None:
    for i, ch in enumerate(value):
        if not ch.isprintable():
            return f"must be printable text without control characters (U+{ord(ch):04X} at position {i})"
    return None


def _check_labels(labels: Mapping[str, str], *, field: str) -> None:
    if len(labels) > MAX_LABELS:
        raise refuse(field, f"at most {MAX_LABELS} labels")
    for key, value in labels.items():
        if not key or len(key) > MAX_LABEL_KEY or _unprintable(key):
            raise refuse(f"{field}.{key[:40]!r}", f"a label name is 1-{MAX_LABEL_KEY} printable characters")
        if len(value) > MAX_LABEL_VALUE:
            raise refuse(f"{field}.{key}", f"at most {MAX_LABEL_VALUE} characters")
        # Labels are free text, but a NUL (which PostgreSQL cannot store) or an escape sequence is not.
        if any(not ch.isprintable() and ch not in "\t\n" for ch in value):
            raise refuse(f"{field}.{key}", "must be text without control characters")


def _check_time(when: datetime | None, *, now: datetime, field: str) -> None:
    if when is None:
        return
    if when.tzinfo is None or when.utcoffset() is None:
        raise refuse(field, "give a time zone, such as 2026-11-01T12:00:00Z")
    # Compared without arithmetic on `when`: year 1 or 9999 must not overflow into an exception.
    earliest, latest = now - PAST, now + FUTURE
    if when < earliest or when > latest:
        raise refuse(
            field,
            f"{when.isoformat()} is outside the accepted window (a day before to five minutes after "
            f"the daemon's clock, {now.isoformat(timespec='seconds')})",
        )
