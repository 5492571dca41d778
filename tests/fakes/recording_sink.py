"""One loopback server standing in for the probed service, a Prometheus-compatible API and a webhook target.

It records every request as sent (raw path, headers, body), so a test can look for leaked secrets and
changed paths or queries. The Prometheus part fails every query except the healthy version's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import promql_parser

from tests.fakes.loopback_json import JsonServer, Recorded

HEALTHY = "1.0.0"


def query_version(query: str) -> str | None:
    """The value of the `version` matcher of `sum(errors{version="..."})`, or None for any other shape."""
    try:
        expr = promql_parser.parse(query)
    except ValueError:
        return None
    if not isinstance(expr, promql_parser.AggregateExpr) or str(expr.op) != "sum":
        return None
    selector = expr.expr
    if not isinstance(selector, promql_parser.VectorSelector) or selector.name != "errors":
        return None
    matchers = selector.matchers.matchers
    if len(matchers) != 1 or matchers[0].name != "version" or selector.matchers.or_matchers:
        return None
    return str(matchers[0].value)


class RecordingSink(JsonServer):
    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if path.startswith("/prom/api/v1/query"):
            return 200, self._prometheus()
        return 200, {"ok": True}

    def _prometheus(self) -> dict[str, Any]:
        raw = self.requests[-1].path
        promql = parse_qs(urlsplit(raw).query).get("query", [""])[0]
        value = "0" if query_version(promql) == HEALTHY else "5"
        result = [{"metric": {}, "value": [0, value]}]
        return {"status": "success", "data": {"resultType": "vector", "result": result}}

    def recorded(self) -> list[Recorded]:
        with self.lock:
            return list(self.requests)
