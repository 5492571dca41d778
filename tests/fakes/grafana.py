"""A loopback Grafana annotations API: `POST /api/annotations` and `GET /api/annotations`.

Shape source: Grafana's HTTP API reference, "Annotations API". Create takes JSON with `time` (epoch
milliseconds), optional `timeEnd`, `tags` (strings), `text`, optional `dashboardUID` and `panelId`, and
answers 200 `{"message": "Annotation added", "id": N}`. It needs `Authorization: Bearer <service account
token>` (401 `{"message": "Unauthorized"}` otherwise); a body without `text` is 400. Find answers a JSON
list of annotations, filtered by `tags` (every given tag must match) and `dashboardUID`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from tests.fakes.loopback_json import JsonServer


class FakeGrafana(JsonServer):
    def __init__(self, *, token: str) -> None:
        super().__init__()
        self.token = token
        self.annotations: list[dict[str, Any]] = []

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Unauthorized"}
        if path != "/api/annotations":
            return 404, {"message": "Not found"}
        if method == "GET":
            tags = [unquote_plus(v) for k, v in query.items() if k == "tags"]
            return 200, [a for a in self.annotations if all(t in a["tags"] for t in tags)]
        if method != "POST":
            return 405, {"message": "Method not allowed"}
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
            return 400, {"message": "bad request data"}
        if not isinstance(body.get("time"), int) or body["time"] < 10**12:
            return 400, {"message": "time must be epoch milliseconds"}
        if not isinstance(body.get("tags", []), list) or not all(
            isinstance(t, str) for t in body.get("tags", [])
        ):
            return 400, {"message": "tags must be strings"}
        ident = len(self.annotations) + 1
        self.annotations.append({"id": ident, **body, "tags": list(body.get("tags", []))})
        return 200, {"message": "Annotation added", "id": ident}
