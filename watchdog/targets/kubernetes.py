"""Kubernetes Deployment target: restores the stable image (or the old ReplicaSet's pod template) and waits.

Speaks apps/v1 with httpx directly: four endpoints do not justify a second HTTP stack (see docs/targets.md).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx

from watchdog.errors import TargetError, WatchdogError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.connections import KubernetesTargetConfig
from watchdog.targets import kubeobjects as ko
from watchdog.targets.base import Current, RollbackRequest, RollbackResult
from watchdog.targets.jsonapi import JsonApi, json_client
from watchdog.targets.kubeconfig import SERVICE_ACCOUNT_DIR, resolve_auth
from watchdog.targets.kubeexec import ExecAuth, ExecCache
from watchdog.targets.retry import Backoff
from watchdog.targets.rollback_memo import RollsBackOnce
from watchdog.targets.transcript import Transcript

STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class KubernetesTarget(RollsBackOnce[KubernetesTargetConfig]):
    def __init__(
        self,
        name: str,
        config: KubernetesTargetConfig,
        *,
        plumbing: Plumbing = BARE,
        poll_interval: float = 2.0,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(name, config, plumbing)
        self._poll = poll_interval
        self._sa_dir = service_account_dir
        self._backoff = backoff or Backoff()
        self._exec_cache = ExecCache(environ=plumbing.environ)  # exec plugin credentials, across calls
        ns, dep = config.namespace, config.deployment
        self._path = f"/apis/apps/v1/namespaces/{ns}/deployments/{dep}"
        self._rs_path = f"/apis/apps/v1/namespaces/{ns}/replicasets"
        self._what = f"deployment {ns}/{dep}"

    def _client(self, log: Transcript) -> httpx.AsyncClient:
        auth = resolve_auth(self.config, environ=self._environ or os.environ, sa_dir=self._sa_dir)
        log.note(f"API server {auth.server} ({auth.source})")
        return json_client(
            log,
            base_url=auth.server,
            bearer=auth.bearer() or None,
            verify=auth.verify(),
            timeout=httpx.Timeout(10.0, connect=3.0),
            transport=self._transport,
            auth=ExecAuth(auth.exec, self._exec_cache) if auth.exec else None,
        )

    async def current(self, req: RollbackRequest) -> Current:
        log = Transcript()
        async with self._client(log) as client:
            dep = await JsonApi(client, log, backoff=self._backoff).request("GET", self._path)
        images = ko.container_images(dep)
        names = ko.select_containers(images, container=self.config.container, req=req) or list(images)
        detail = ", ".join(f"{n}={images[n]}" for n in names)
        if ko.runs(images, ko.wanted_images(images, names=names, artifact=req.artifact)):
            return Current(artifact=req.artifact, detail=detail)
        chosen = {images[n] for n in names}
        return Current(artifact=chosen.pop() if len(chosen) == 1 else None, detail=detail)

    async def _perform(self, req: RollbackRequest) -> RollbackResult:
        """One rollback through the API server, within config.timeout; the detail ends with its duration."""
        log = Transcript()
        run: JsonApi | None = None
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with self._client(log) as client:
                run = JsonApi(client, log, backoff=self._backoff, deadline=started + self.config.timeout)
                ok, detail = await self._rollback(run, req)
        except WatchdogError as exc:
            ok, detail = False, str(exc)
        return RollbackResult(
            ok=ok,
            detail=log.clean(f"{detail} ({loop.time() - started:.0f} s)"),
            output=log.text(),
            attempts=1 + (run.retries if run else 0),
        )

    async def _rollback(self, run: JsonApi, req: RollbackRequest) -> tuple[bool, str]:
        dep = await run.request("GET", self._path)
        if ko.spec(dep).get("paused"):
            return False, f"{self._what} is paused; resume it before rolling back"
        images = ko.container_images(dep)
        names = ko.select_containers(images, container=self.config.container, req=req)
        if not names:
            raise TargetError(
                f"{self._what}: no container to restore: none is named {self.config.container!r} "
                f"or runs an image of {ko.repository(req.artifact)}; containers: {images}"
                if self.config.container
                else f"{self._what}: no container runs an image of {ko.repository(req.artifact)} "
                f"or {ko.repository(req.failed_artifact)}; containers: {images}; set `container`"
            )
        wanted = ko.wanted_images(images, names=names, artifact=req.artifact)
        if ko.is_version(req.artifact):
            run.log.note(f"artifact {req.artifact} is a version, not an image: restoring {wanted}")
        if ko.runs(images, wanted):
            run.log.note(
                f"{', '.join(names)} already run {req.artifact}: nothing patched, checking the rollout"
            )
            action = f"{self._what} already runs {req.artifact}"
        else:
            dep, action = await self._restore(run, dep, wanted=wanted)
        return await self._wait(run, generation=int(ko.meta(dep).get("generation", 0)), action=action)

    async def _restore(
        self, run: JsonApi, dep: dict[str, Any], *, wanted: dict[str, str]
    ) -> tuple[dict[str, Any], str]:
        """PATCHes the containers back to the `wanted` images: the old ReplicaSet's template if it exists."""
        selector = ",".join(
            f"{k}={v}" for k, v in ko.spec(dep).get("selector", {}).get("matchLabels", {}).items()
        )
        listing = await run.request("GET", f"{self._rs_path}?labelSelector={selector}")
        rs = ko.stable_replicaset(dep, listing.get("items", []), wanted=wanted)
        shown = ", ".join(sorted(set(wanted.values())))
        if rs is not None:
            # As `kubectl rollout undo`: the old pod template, so env and config changes are undone too.
            revision = ko.revision(rs)
            run.log.note(
                f"restoring the pod template of ReplicaSet {ko.meta(rs)['name']} (revision {revision})"
            )
            patch = [{"op": "replace", "path": "/spec/template", "value": ko.template_without_hash(rs)}]
            dep = await run.request("PATCH", self._path, body=patch, content_type=JSON_PATCH)
            return dep, f"{self._what} restored to ReplicaSet revision {revision} ({shown})"
        names = ", ".join(wanted)
        run.log.note(f"no ReplicaSet with {shown} left: setting the image of {names}")
        containers = [{"name": n, "image": image} for n, image in wanted.items()]
        body = {"spec": {"template": {"spec": {"containers": containers}}}}
        dep = await run.request("PATCH", self._path, body=body, content_type=STRATEGIC)
        return dep, f"{self._what}: image of {names} set to {shown}"

    async def _wait(self, run: JsonApi, *, generation: int, action: str) -> tuple[bool, str]:
        """Polls until the rollout is complete, stalls (ProgressDeadlineExceeded) or the deadline passes."""
        loop = asyncio.get_running_loop()
        last = ""
        while True:
            dep = await run.request("GET", self._path, quiet=True)
            state, text = ko.rollout_state(dep, generation=generation)
            if text != last:
                run.log.note(f"rollout: {text}")
                last = text
            if state == "done":
                return True, f"{action}; rollout complete"
            if state == "failed":
                return False, f"{action}; rollout failed: {text}"
            if run.deadline is not None and loop.time() + self._poll > run.deadline:
                return False, f"{action}; rollout not complete after {self.config.timeout:g} s: {text}"
            await asyncio.sleep(self._poll)
