"""The Sentry source's query mini-syntax (`events`, `transactions`, `crash_free_rate(session)` + terms)
and readers of Sentry's answers; docs/sources.md describes both for SREs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from watchdog.errors import SourceError
from watchdog.sources.query_api import finite
from watchdog.sources.series import Series

RELEASE_TERM = re.compile(r'(?<!\S)!?release:(?:"[^"]*"|\S+)')
_CRASH_FREE = re.compile(r"crash_free_rate\((session|user)\)")
# The count that goes with each crash-free rate, for the min_sessions guard.
TOTAL_FIELD = {"session": "sum(session)", "user": "count_unique(user)"}


@dataclass(frozen=True)
class SentryQuery:
    """A parsed check query: what to count (or rate), and extra Sentry search terms."""

    kind: Literal["events", "transactions", "crash_free_rate"]
    unit: str = "session"
    filter: str = ""


def parse_query(text: str) -> SentryQuery:
    """`events [FILTER]`, `transactions [FILTER]` or `crash_free_rate(session|user) [FILTER]`."""
    head, _, rest = text.strip().partition(" ")
    if head == "events":
        return SentryQuery(kind="events", filter=rest.strip())
    if head == "transactions":
        return SentryQuery(kind="transactions", filter=rest.strip())
    match = _CRASH_FREE.fullmatch(head)
    if match:
        return SentryQuery(kind="crash_free_rate", unit=match.group(1), filter=rest.strip())
    raise SourceError(
        f"unknown Sentry query {head!r}; use events, transactions or crash_free_rate(session|user)",
        kind="query",
    )


def release_filter(query: SentryQuery, version: str) -> str:
    """The search string scoped to the new release, unless the check names a release itself."""
    if RELEASE_TERM.search(query.filter):
        return query.filter
    quoted = '"' + version.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"release:{quoted} {query.filter}".strip()


def event_type(query: SentryQuery) -> str:
    return "event.type:error" if query.kind == "events" else "event.type:transaction"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_events_stats(body: Any) -> Series:
    """`{"data": [[epoch_s, [{"count": N}]], ...]}` -> one series of counts per bucket."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise SourceError("malformed response from Sentry: no data list", kind="parse")
    points: list[tuple[float, float]] = []
    for bucket in data:
        if not (isinstance(bucket, list) and len(bucket) == 2 and isinstance(bucket[1], list)):
            raise SourceError("malformed response from Sentry: bad bucket", kind="parse")
        ts = finite(bucket[0])
        if ts is None:
            raise SourceError("malformed response from Sentry: bad bucket time", kind="parse")
        counts = [finite(c.get("count")) if isinstance(c, dict) else None for c in bucket[1]]
        points.append((ts, sum(c for c in counts if c is not None)))
    return Series(scope="sentry", points=tuple(sorted(points)))


def parse_sessions(body: Any, *, rate_field: str, total_field: str) -> list[tuple[float | None, float]]:
    """(rate, count) per group of a sessions answer's `totals`; a null rate means no sessions there."""
    groups = body.get("groups") if isinstance(body, dict) else None
    if not isinstance(groups, list):
        raise SourceError("malformed response from Sentry: no groups list", kind="parse")
    totals = [g.get("totals") for g in groups if isinstance(g, dict)]
    return [
        (finite(t.get(rate_field)), finite(t.get(total_field)) or 0.0) for t in totals if isinstance(t, dict)
    ]
