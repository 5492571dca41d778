"""Alertmanager silences through its API v2: created, extended and expired for one deployment each.

A silence is found again by who made it and the deployment id in its comment, so no local state is
needed; its end time is always in the near future, so it lapses by itself if the daemon dies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from watchdog.clock import utc
from watchdog.notify.base import answered
from watchdog.notify.message import Notification

CREATED_BY = "deploy-watchdog"
_DEPLOYMENT = re.compile(r"\(deployment ([0-9A-Za-z_-]{1,64})\)")


@dataclass(frozen=True)
class Silence:
    id: str
    state: str  # active | pending | expired
    deployment_id: str | None
    matchers: tuple[tuple[str, str, bool, bool], ...]
    ends_at: datetime
    starts_at_raw: str  # sent back verbatim: Alertmanager updates in place only with the same start


def comment_for(*, service: str, environment: str, version: str, deployment_id: str) -> str:
    return f"Deploy Watchdog is verifying {service} {version} in {environment} (deployment {deployment_id})"


def _iso(dt: datetime) -> str:
    return utc(dt).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    # Go may write nanoseconds; Python reads at most microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return utc(datetime.fromisoformat(text))


class AlertmanagerNotifier:
    """Also a notifier: named in a policy's `notify`, a verdict expires that deployment's silence at once."""

    def __init__(
        self,
        *,
        name: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        margin_s: float = 120.0,
        sync_every_s: float = 5.0,
        events: Sequence[str] = (),
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.events = frozenset(events)
        self.margin_s, self.sync_every_s = margin_s, sync_every_s
        self._url, self._headers, self._timeout = url.rstrip("/"), dict(headers or {}), timeout

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(timeout=self._timeout, headers=self._headers) as client:
            call = client.request(method, f"{self._url}/api/v2{path}", json=body)
            resp = await answered(
                f"alertmanager {self.name}", call, request=f"{method} {path}", retryable=lambda s: s >= 500
            )
        return resp.json() if resp.content else None

    async def ours(self) -> list[Silence]:
        """Every silence this daemon made that is not expired yet."""
        out = []
        for item in await self._call("GET", "/silences") or []:
            if item.get("createdBy") != CREATED_BY or item.get("status", {}).get("state") == "expired":
                continue
            found = _DEPLOYMENT.search(item.get("comment") or "")
            out.append(
                Silence(
                    id=str(item["id"]),
                    state=str(item["status"]["state"]),
                    deployment_id=found.group(1) if found else None,
                    matchers=tuple(
                        (m["name"], m["value"], bool(m.get("isRegex")), bool(m.get("isEqual", True)))
                        for m in item.get("matchers", [])
                    ),
                    ends_at=_parse_time(item["endsAt"]),
                    starts_at_raw=str(item["startsAt"]),
                )
            )
        return out

    async def put(
        self,
        *,
        matchers: list[dict[str, object]],
        starts_at: datetime,
        ends_at: datetime,
        comment: str,
        silence_id: str | None = None,
        starts_at_raw: str | None = None,
    ) -> str:
        """Creates a silence, or with `silence_id` moves its end; returns the id Alertmanager answers."""
        body: dict[str, Any] = {
            "matchers": matchers,
            "startsAt": starts_at_raw or _iso(starts_at),
            "endsAt": _iso(ends_at),
            "createdBy": CREATED_BY,
            "comment": comment,
        }
        if silence_id is not None:
            body["id"] = silence_id
        answer = await self._call("POST", "/silences", body)
        return str(answer["silenceID"])

    async def expire(self, silence_id: str) -> None:
        await self._call("DELETE", f"/silence/{silence_id}")

    async def send(self, n: Notification) -> None:
        if n.event == "started":
            return  # the engine's silence keeper creates them; a verdict is what ends one early
        for s in await self.ours():
            if s.deployment_id == n.deployment_id:
                await self.expire(s.id)
