"""A loopback fake of Sentry's events-stats and sessions endpoints, in Sentry's documented wire shapes.

Events and per-release session counts are loaded by tests; rate-limit headers (Reset: epoch s) are scriptable.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.fakes.ratewindow import RateWindow
from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer

_TERM = re.compile(r'(\S+?):(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def rate_limit_headers(*, limit: int, remaining: int, reset_epoch: int) -> dict[str, str]:
    """Sentry's headers: Reset is a UTC epoch in seconds (Datadog's is seconds from now)."""
    return {
        "X-Sentry-Rate-Limit-Limit": str(limit),
        "X-Sentry-Rate-Limit-Remaining": str(remaining),
        "X-Sentry-Rate-Limit-Reset": str(reset_epoch),
        "X-Sentry-Rate-Limit-ConcurrentLimit": "25",
        "X-Sentry-Rate-Limit-ConcurrentRemaining": "24",
    }


def too_many(*, reset_epoch: int) -> Reply:
    return Reply(
        429,
        {"detail": "You are attempting to use this endpoint too frequently."},
        rate_limit_headers(limit=40, remaining=0, reset_epoch=reset_epoch),
    )


@dataclass(frozen=True)
class Event:
    ts: float
    type: str  # error | transaction
    release: str
    environment: str = "production"
    count: int = 1  # several events at one instant: history is loaded as counts per step


def _terms(query: str) -> dict[str, str]:
    return {m.group(1): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _TERM.finditer(query)}


def _epoch(text: str | None) -> float:
    assert text, "start and end are required by this fake"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class FakeSentry(ScriptedServer):
    """`fake.events` feed events-stats; `fake.sessions[release] = (total, crashed)` feeds sessions."""

    def __init__(self, *, token: str | None = None, organization: str = "acme") -> None:
        super().__init__()
        self.token = token
        self.organization = organization
        self.events: list[Event] = []
        self.sessions: dict[str, tuple[int, int]] = {}
        self.headers: dict[str, str] = {}
        # History: events-stats answers in pages of this many buckets (Link cursors); a refusal past
        # `max_points` buckets, as Sentry refuses; a live budget of calls.
        self.page_size: int | None = None
        self.max_points: int | None = None
        self.window: RateWindow | None = None

    def add_events(
        self, *, type: str, release: str, times: list[float], environment: str = "production"
    ) -> None:
        self.events.extend(Event(t, type, release, environment) for t in times)

    def handle(self, request: Recorded) -> Reply:
        if self.token and request.header("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"detail": "Invalid token"})
        base = f"/api/0/organizations/{self.organization}/"
        if request.path == base + "events-stats/" and (
            self.window is not None or self.page_size is not None or self.max_points is not None
        ):
            return self.paged_events_stats(request)
        if request.path == base + "events-stats/":
            return Reply(200, self.events_stats(request), dict(self.headers))
        if request.path == base + "sessions/":
            return Reply(200, self.sessions_body(request), dict(self.headers))
        return Reply(404, {"detail": "The requested resource does not exist"})

    def events_stats(self, request: Recorded) -> dict[str, Any]:
        terms = _terms(request.param("query") or "")
        start, end = _epoch(request.param("start")), _epoch(request.param("end"))
        interval = float((request.param("interval") or "60s").rstrip("s"))
        env = request.param("environment")
        chosen = [
            e
            for e in self.events
            if start <= e.ts < end
            and e.type == terms.get("event.type", e.type)
            and e.release == terms.get("release", e.release)
            and (env is None or e.environment == env)
        ]
        # Buckets start on multiples of the interval, as Sentry's rollups do.
        first = math.floor(start / interval) * interval
        data = []
        t = first
        while t < end:
            count = sum(e.count for e in chosen if t <= e.ts < t + interval)
            data.append([int(t), [{"count": count}]])
            t += interval
        return {"data": data, "start": int(first), "end": int(end), "isMetricsData": False, "meta": {}}

    def paged_events_stats(self, request: Recorded) -> Reply:
        headers = dict(self.headers)
        if self.window is not None:
            allowed, remaining, reset = self.window.take()
            limits = rate_limit_headers(
                limit=self.window.limit, remaining=remaining, reset_epoch=math.ceil(reset)
            )
            headers.update(limits)
            if not allowed:
                return Reply(
                    429, {"detail": "You are attempting to use this endpoint too frequently."}, headers
                )
        body = self.events_stats(request)
        data = body["data"]
        if self.max_points is not None and len(data) > self.max_points:
            detail = (
                "Your interval and date range would create too many results. "
                "Use a larger interval, or a smaller date range."
            )
            return Reply(400, {"detail": detail}, headers)
        if self.page_size is None:
            return Reply(200, body, headers)
        offset = int((request.param("cursor") or "0:0:0").split(":")[1])
        page = data[offset : offset + self.page_size]
        more = offset + self.page_size < len(data)
        nxt = f"0:{offset + self.page_size}:0"
        url = f"{self.url}{request.path}"
        headers["Link"] = (
            f'<{url}?cursor=0:{max(0, offset - self.page_size)}:1>; rel="previous"; '
            f'results="{str(offset > 0).lower()}"; cursor="0:{max(0, offset - self.page_size)}:1", '
            f'<{url}?cursor={nxt}>; rel="next"; results="{str(more).lower()}"; cursor="{nxt}"'
        )
        return Reply(200, {**body, "data": page}, headers)

    def sessions_body(self, request: Recorded) -> dict[str, Any]:
        fields = request.query.get("field", [])
        release = _terms(request.param("query") or "").get("release")
        base = {
            "start": request.param("start"),
            "end": request.param("end"),
            "intervals": [request.param("start")],
            "query": request.param("query"),
        }
        if release not in self.sessions:
            return {**base, "groups": []}
        total, crashed = self.sessions[release]
        values = {
            "sum(session)": total,
            "count_unique(user)": total,
            "crash_free_rate(session)": None if total == 0 else 1 - crashed / total,
            "crash_free_rate(user)": None if total == 0 else 1 - crashed / total,
        }
        totals = {f: values.get(f) for f in fields}
        return {
            **base,
            "groups": [{"by": {}, "totals": totals, "series": {f: [v] for f, v in totals.items()}}],
        }
