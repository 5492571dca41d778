"""Argo CD Application target: rolls back to the history entry of the stable revision and waits for health.

Argo CD refuses a rollback while automated sync is on; we turn it off only when the config allows, and say so.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Any
from urllib.parse import quote

import httpx

from watchdog.errors import TargetError, WatchdogError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.connections import ArgoCDTargetConfig
from watchdog.policy.secrets import resolve_secret
from watchdog.targets.base import Current, RollbackRequest, RollbackResult
from watchdog.targets.jsonapi import JsonApi, json_client
from watchdog.targets.retry import Backoff
from watchdog.targets.rollback_memo import RollsBackOnce
from watchdog.targets.transcript import Transcript

_SHA = re.compile(r"[0-9a-f]{7,40}")
MANIFEST_LOOKUPS = 10  # history entries whose manifests are rendered when looking for an image


def _status(app: dict[str, Any]) -> dict[str, Any]:
    value = app.get("status") or {}
    return value if isinstance(value, dict) else {}


def revision_matches(revision: str, wanted: str) -> bool:
    """Equal, or `wanted` is an abbreviated Git SHA of `revision`."""
    return bool(wanted) and (
        revision == wanted or (_SHA.fullmatch(wanted) is not None and revision.startswith(wanted))
    )


def entry_matches(entry: dict[str, Any], req: RollbackRequest) -> bool:
    """By the synced revision (a Git SHA or chart version), or by the tag the source asked for (`v1.4.1`)."""
    revisions = [str(entry.get("revision") or ""), *(str(r) for r in entry.get("revisions") or [])]
    if any(revision_matches(r, w) for r in revisions if r for w in (req.artifact, req.version)):
        return True
    sources = [entry.get("source") or {}, *(entry.get("sources") or [])]
    wanted = {req.version, "v" + req.version} - {"", "v"}
    return any(isinstance(src, dict) and src.get("targetRevision") in wanted for src in sources)


def images_in(value: Any) -> set[str]:
    """Every `image` string inside a parsed manifest (containers, initContainers, CRDs alike)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "image" and isinstance(item, str):
                found.add(item)
            else:
                found |= images_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= images_in(item)
    return found


def autosync_on(app: dict[str, Any]) -> bool:
    automated = (app.get("spec") or {}).get("syncPolicy", {}).get("automated")
    return isinstance(automated, dict) and automated.get("enabled") is not False


def runs(app: dict[str, Any], req: RollbackRequest) -> bool:
    """Whether the app already runs the stable artifact (images) or revision, with no operation running."""
    status = _status(app)
    if (status.get("operationState") or {}).get("phase") in ("Running", "Terminating"):
        return False
    images = status.get("summary", {}).get("images") or []
    if req.artifact in images and (req.failed_artifact == req.artifact or req.failed_artifact not in images):
        return True
    revision = str(status.get("sync", {}).get("revision") or "")
    return bool(revision) and any(revision_matches(revision, w) for w in (req.artifact, req.version))


class ArgoCDTarget(RollsBackOnce[ArgoCDTargetConfig]):
    def __init__(
        self,
        name: str,
        config: ArgoCDTargetConfig,
        *,
        plumbing: Plumbing = BARE,
        poll_interval: float = 2.0,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(name, config, plumbing)
        self._poll = poll_interval
        self._backoff = backoff or Backoff()
        self._ns = f"&appNamespace={quote(config.app_namespace)}" if config.app_namespace else ""
        self._path = f"/api/v1/applications/{quote(config.application, safe='')}"
        self._get = self._path + ("?" + self._ns[1:] if self._ns else "")
        self._what = f"application {config.application}"

    def _client(self, log: Transcript) -> httpx.AsyncClient:
        secret = resolve_secret(
            env=self.config.token_env,
            file=self.config.token_file,
            what=f"argocd target {self.name}",
            environ=self._environ if self._environ is not None else os.environ,
        )
        return json_client(
            log,
            base_url=self.config.url.rstrip("/"),
            bearer=None if secret is None else secret.get_secret_value(),
            # Plain HTTP needs no context; building one loads the CA bundle (~0.1 s) for nothing.
            verify=not (self.config.insecure or self.config.url.startswith("http://")),
            timeout=httpx.Timeout(15.0, connect=3.0),
            transport=self._transport,
        )

    async def current(self, req: RollbackRequest) -> Current:
        log = Transcript()
        async with self._client(log) as client:
            app = await JsonApi(client, log, backoff=self._backoff).request("GET", self._get)
        status = _status(app)
        images = list(status.get("summary", {}).get("images") or [])
        revision = status.get("sync", {}).get("revision")
        artifact = req.artifact if runs(app, req) else (images[0] if len(images) == 1 else revision)
        health = status.get("health", {}).get("status")
        return Current(artifact=artifact, detail=f"revision {revision}, health {health}, images {images}")

    async def _perform(self, req: RollbackRequest) -> RollbackResult:
        """One rollback through the Argo CD API; every request is retried, all within config.timeout."""
        log = Transcript()
        loop = asyncio.get_running_loop()
        api: JsonApi | None = None
        try:
            async with self._client(log) as client:
                api = JsonApi(client, log, backoff=self._backoff, deadline=loop.time() + self.config.timeout)
                ok, detail = await self._rollback(api, req)
        except WatchdogError as exc:
            ok, detail = False, str(exc)
        attempts = 1 + (api.retries if api else 0)
        return RollbackResult(ok=ok, detail=log.clean(detail), output=log.text(), attempts=attempts)

    async def _rollback(self, api: JsonApi, req: RollbackRequest) -> tuple[bool, str]:
        app = await api.request("GET", self._get)
        if runs(app, req):
            api.log.note(f"{self._what} already runs {req.artifact}: no rollback started, checking health")
            action = f"{self._what} already runs {req.artifact}"
            return await self._wait(api, started=False, before=None, action=action)
        history = [h for h in _status(app).get("history") or [] if isinstance(h, dict)]
        matching = [h for h in history if entry_matches(h, req)] or await self._by_image(api, history, req)
        if not matching:
            seen = ", ".join(f"{h.get('id')}:{h.get('revision')}" for h in history) or "empty"
            return (
                False,
                f"no entry in {self._what}'s history has revision {req.artifact} or {req.version}; {seen}",
            )
        entry = max(matching, key=lambda h: int(h.get("id", 0)))
        action = f"{self._what} rolled back to history id {entry['id']} (revision {entry.get('revision')})"
        if autosync_on(app):
            if not self.config.allow_disable_autosync:
                return False, (
                    f"{self._what} has automated sync on, and Argo CD refuses a rollback then: revert the "
                    "deploy in Git, or set allow_disable_autosync: true to let the watchdog turn it off"
                )
            patch = json.dumps({"spec": {"syncPolicy": {"automated": None}}})
            change = {"name": self.config.application, "patchType": "merge", "patch": patch}
            await api.request("PATCH", self._get, body=change)
            api.log.note(
                f"automated sync DISABLED on {self._what} so that Argo CD accepts the rollback; "
                "re-enabling it deploys Git HEAD again, so revert the bad change in Git first"
            )
            action += "; automated sync disabled (revert in Git before re-enabling it)"
        before = (_status(app).get("operationState") or {}).get("startedAt")
        body: dict[str, Any] = {"id": entry["id"], "dryRun": False, "prune": False}
        if self.config.app_namespace:
            body["appNamespace"] = self.config.app_namespace
        try:
            await api.request("POST", f"{self._path}/rollback", body=body)
        except TargetError:
            # A retried POST may meet the operation its first try started: that one is ours, not an error.
            op = _status(await api.request("GET", self._get)).get("operationState") or {}
            revision = (op.get("operation") or {}).get("sync", {}).get("revision")
            if op.get("startedAt") == before or revision != entry.get("revision"):
                raise
        return await self._wait(api, started=True, before=before, action=action)

    async def _by_image(
        self, api: JsonApi, history: list[dict[str, Any]], req: RollbackRequest
    ) -> list[dict[str, Any]]:
        """History keeps no images: render the newest few revisions' manifests and look for the artifact."""
        for entry in sorted(history, key=lambda h: int(h.get("id", 0)), reverse=True)[1:MANIFEST_LOOKUPS]:
            revision = str(entry.get("revision") or "")
            if not revision:
                continue
            answer = await api.request("GET", f"{self._path}/manifests?revision={quote(revision)}{self._ns}")
            parsed = []
            for text in answer.get("manifests") or []:
                try:
                    parsed.append(json.loads(text))
                except (TypeError, ValueError):
                    continue
            if req.artifact in images_in(parsed):
                api.log.note(f"revision {revision} (history id {entry.get('id')}) renders {req.artifact}")
                return [entry]
        return []

    async def _wait(self, api: JsonApi, *, started: bool, before: Any, action: str) -> tuple[bool, str]:
        """Polls until our sync operation ends and the application is Healthy, or the deadline passes.

        `before` is operationState.startedAt before our POST: an operation with another start is ours.
        """
        loop = asyncio.get_running_loop()
        last = ""
        while True:
            status = _status(await api.request("GET", self._get, quiet=True))
            op = status.get("operationState") or {}
            if not started:  # nothing started by us: only health matters
                phase = "Succeeded"
            elif op.get("startedAt") == before:  # the controller has not picked our operation up yet
                phase = "Pending"
            else:
                phase = str(op.get("phase"))
            health = status.get("health", {}).get("status", "Unknown")
            text = f"operation {phase}, health {health}, sync {status.get('sync', {}).get('status')}"
            if text != last:
                api.log.note(f"status: {text}" + (f" ({op.get('message')})" if op.get("message") else ""))
                last = text
            if phase in ("Failed", "Error"):
                return False, f"{action}; the sync operation {phase}: {op.get('message', '')}"
            if phase == "Succeeded" and health == "Healthy":
                return True, f"{action}; synced and healthy"
            if api.deadline is not None and loop.time() + self._poll > api.deadline:
                return False, f"{action}; not healthy after {self.config.timeout:g} s: {text}"
            await asyncio.sleep(self._poll)
