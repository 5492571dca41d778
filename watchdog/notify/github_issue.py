"""The post-mortem as a GitHub issue in the service's repository, opened once and updated in place.

The issue carries a hidden marker with the deployment id, and its number is kept beside the report
(`<report>.github-issue.json`) and in memory, so a restart or another replica edits the same issue.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from watchdog.notify.base import answered
from watchdog.notify.message import Notification

MAX_BODY = 65_000  # GitHub refuses bodies over 65,536 characters
# Charts are files beside the report on the daemon's disk: GitHub cannot show them, the report page can.
_CHART = re.compile(r"!\[([^\]]*)\]\(([^)\s/]+\.svg)\)")


def marker(deployment_id: str) -> str:
    return f"<!-- deploy-watchdog: deployment {deployment_id} -->"


@dataclass(frozen=True)
class Route:
    repository: str
    labels: tuple[str, ...]
    assignees: tuple[str, ...]


def issue_body(n: Notification) -> str:
    text = ""
    if n.report_path:
        try:
            text = Path(n.report_path).read_text(encoding="utf-8")
        except OSError:
            text = ""
    if not text:
        text = f"# {n.headline}\n\n{n.summary}\n"
    where = f"[the report]({n.report_url})" if n.report_url else "the report on the daemon"
    text = _CHART.sub(lambda m: f"_Chart ({m.group(1)}): see {where}._", text)
    link = f"\n\n[The report on Deploy Watchdog]({n.report_url})" if n.report_url else ""
    head = marker(n.deployment_id) + "\n"
    room = MAX_BODY - len(head) - len(link) - 40
    if len(text) > room:
        text = text[:room] + "\n\n_(cut to fit GitHub's limit)_"
    return head + text + link


class GitHubIssueNotifier:
    def __init__(
        self,
        *,
        name: str,
        token: SecretStr,
        repository: str,
        events: Iterable[str],
        api_url: str = "https://api.github.com",
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        services: Mapping[str, Route] | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.events = frozenset(events)
        self._token, self._api = token, api_url.rstrip("/")
        self._default = Route(repository, tuple(labels), tuple(assignees))
        self._services = dict(services or {})
        self._timeout = timeout
        self.numbers: dict[str, int] = {}  # deployment id -> issue number

    def route(self, service: str) -> Route:
        r = self._services.get(service, self._default)
        return Route(r.repository.replace("{{ service }}", service), r.labels, r.assignees)

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "deploy-watchdog",
        }

    async def send(self, n: Notification) -> None:
        route = self.route(n.service)
        repo = "/".join(quote(p, safe="") for p in route.repository.split("/", 1))
        title, body = f"Post-mortem: {n.headline}"[:256], issue_body(n)
        async with httpx.AsyncClient(base_url=self._api, headers=self._headers(), timeout=self._timeout) as c:
            number = self.numbers.get(n.deployment_id) or _stored(n) or await self._find(c, repo, route, n)
            if number is not None:
                resp = await self._call(
                    c, "PATCH", f"/repos/{repo}/issues/{number}", {"title": title, "body": body}
                )
            else:
                payload: dict[str, Any] = {"title": title, "body": body, "labels": list(route.labels)}
                if route.assignees:
                    payload["assignees"] = list(route.assignees)
                resp = await self._call(c, "POST", f"/repos/{repo}/issues", payload)
                number = int(resp.json()["number"])
        self.numbers[n.deployment_id] = number
        _store(n, repository=route.repository, number=number)

    async def _find(self, c: httpx.AsyncClient, repo: str, route: Route, n: Notification) -> int | None:
        """The issue a previous process opened: newest 100 with our first label, matched by the marker."""
        params = {"state": "all", "per_page": "100", "sort": "created", "direction": "desc"}
        if route.labels:
            params["labels"] = route.labels[0]
        resp = await self._call(c, "GET", f"/repos/{repo}/issues", None, params=params)
        mark = marker(n.deployment_id)
        for item in resp.json():
            if "pull_request" not in item and mark in (item.get("body") or ""):
                return int(item["number"])
        return None

    async def _call(
        self, c: httpx.AsyncClient, method: str, path: str, body: Any, *, params: dict[str, str] | None = None
    ) -> httpx.Response:
        call = c.request(method, path, json=body, params=params)
        return await answered(f"github_issue {self.name}", call, request=f"{method} {path}")


def _sidecar(n: Notification) -> Path | None:
    return Path(n.report_path + ".github-issue.json") if n.report_path else None


def _stored(n: Notification) -> int | None:
    path = _sidecar(n)
    if path is None:
        return None
    try:
        return int(json.loads(path.read_text())["number"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(n: Notification, *, repository: str, number: int) -> None:
    path = _sidecar(n)
    if path is not None and path.parent.is_dir():
        with contextlib.suppress(OSError):  # the marker in the issue still finds it
            path.write_text(json.dumps({"repository": repository, "number": number}) + "\n")
