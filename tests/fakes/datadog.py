"""A loopback fake of Datadog's metric query API (v1 `GET /api/v1/query`), in Datadog's wire shapes.

`from`/`to` arrive in seconds, pointlist timestamps leave in milliseconds; rate-limit headers are scriptable.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from tests.fakes.ratewindow import RateWindow
from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer

RECORDED_OK = Path(__file__).parent / "data" / "datadog-v1-query-ok.json"


def recorded_ok() -> dict[str, Any]:
    """The real v1 response body recorded by datadog-api-client-python's cassettes."""
    data: dict[str, Any] = json.loads(RECORDED_OK.read_text())
    return data


def rate_limit_headers(*, limit: int, remaining: int, reset: int, period: int = 60) -> dict[str, str]:
    """Datadog's headers: Reset is seconds until the window resets (not an epoch)."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Period": str(period),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Name": "query",
    }


def too_many(*, reset: int, limit: int = 100) -> Reply:
    return Reply(
        429,
        {"errors": ["Too many requests"]},
        rate_limit_headers(limit=limit, remaining=0, reset=reset),
    )


class FakeDatadog(ScriptedServer):
    """Series per query text: `fake.add(query, [(epoch_s, value), ...])`; unknown queries have no series.

    `api_key`/`app_key`, when set, are required (403 otherwise); `headers` go on every normal answer.
    """

    def __init__(self, *, api_key: str | None = None, app_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.app_key = app_key
        self.series: dict[str, list[dict[str, Any]]] = {}
        self.bodies: dict[str, dict[str, Any]] = {}  # query -> a whole response body, served as is
        self.headers: dict[str, str] = {}
        # History: longer ranges come back rolled up past this many points; a live budget of calls.
        self.max_points: int | None = None
        self.window: RateWindow | None = None

    def add(
        self,
        query: str,
        points: list[tuple[float, float | None]],
        *,
        scope: str = "*",
        interval: int = 10,
    ) -> None:
        self.series.setdefault(query, []).append({"points": points, "scope": scope, "interval": interval})

    def handle(self, request: Recorded) -> Reply:
        if request.path != "/api/v1/query":
            return Reply(404, {"errors": ["Not found"]})
        if (self.api_key and request.header("DD-API-KEY") != self.api_key) or (
            self.app_key and request.header("DD-APPLICATION-KEY") != self.app_key
        ):
            return Reply(403, {"errors": ["Forbidden"]}, dict(self.headers))
        headers = dict(self.headers)
        if self.window is not None:
            allowed, remaining, reset = self.window.take()
            seconds = max(1, math.ceil(reset - time.time()))
            limit = self.window.limit
            headers.update(rate_limit_headers(limit=limit, remaining=remaining, reset=seconds))
            if not allowed:
                return Reply(429, {"errors": ["Too many requests"]}, headers)
        query = request.param("query") or ""
        start, end = int(request.param("from") or 0), int(request.param("to") or 0)
        if self.window is not None or self.max_points is not None:
            return Reply(200, self.body(query, start, end), headers)
        if query in self.bodies:
            return Reply(200, self.bodies[query], dict(self.headers))
        return Reply(200, self.body(query, start, end), dict(self.headers))

    def body(self, query: str, start: int, end: int) -> dict[str, Any]:
        series = []
        for index, s in enumerate(self.series.get(query, [])):
            pointlist = [[t * 1000.0, v] for t, v in s["points"] if start <= t <= end]
            if not pointlist:
                continue
            interval = s["interval"]
            if self.max_points is not None and len(pointlist) > self.max_points:
                # As Datadog does for long ranges: coarser points, each the sum of the ones it covers.
                interval = s["interval"] * math.ceil(len(pointlist) / self.max_points)
                pointlist = _rolled_up(pointlist, interval)
            metric = query.split(":")[1].split("{")[0] if ":" in query else query.split("{")[0]
            series.append(
                {
                    "metric": metric,
                    "display_name": metric,
                    "expression": query,
                    "scope": s["scope"],
                    "tag_set": [] if s["scope"] == "*" else [s["scope"]],
                    "aggr": query.split(":")[0] if ":" in query else None,
                    "interval": interval,
                    "length": len(pointlist),
                    "start": int(pointlist[0][0]),
                    "end": int(pointlist[-1][0]),
                    "query_index": index,
                    "attributes": {},
                    "unit": None,
                    "pointlist": pointlist,
                }
            )
        return {
            "status": "ok",
            "res_type": "time_series",
            "resp_version": 1,
            "query": query,
            "from_date": start * 1000,
            "to_date": end * 1000,
            "group_by": [],
            "message": "",
            "series": series,
            "times": [],
            "values": [],
        }


def _rolled_up(pointlist: list[list[Any]], interval: int) -> list[list[Any]]:
    buckets: dict[float, float] = {}
    for t, v in pointlist:
        key = math.floor(t / 1000 / interval) * interval * 1000.0
        buckets[key] = buckets.get(key, 0.0) + (v or 0.0)
    return [[t, v] for t, v in sorted(buckets.items())]
