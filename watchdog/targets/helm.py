"""Helm release target: finds the last good revision of the stable version in `helm history`; rolls back.

Never a bare `helm rollback` (current-1, even when it failed); `--wait` is a bool in Helm 3, a strategy in 4.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Mapping
from typing import Any

from watchdog.errors import TargetError, TransientTargetError, WatchdogError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.connections import HelmTargetConfig
from watchdog.targets import process
from watchdog.targets.base import Current, RollbackRequest, RollbackResult
from watchdog.targets.retry import Backoff, with_retries
from watchdog.targets.rollback_memo import RollsBackOnce
from watchdog.targets.transcript import RetryNotes, Transcript, excerpt

GOOD = ("deployed", "superseded")
# stderr of a helm run that may well work when asked again: the cluster or a lock was briefly unavailable.
_TRANSIENT = re.compile(
    r"(?i)cluster unreachable|connection refused|i/o timeout|tls handshake timeout|connection reset|"
    r"unable to handle the request|etcdserver: request timed out|too many requests|"
    r"another operation \(install/upgrade/rollback\) is in progress"
)
_QUICK = 60.0  # seconds allowed for `version` and `history`


def _version_of(rev: Mapping[str, Any]) -> tuple[str, str]:
    """(app_version, chart version) of a history entry; the chart version is what follows the last dash."""
    chart = str(rev.get("chart") or "")
    return str(rev.get("app_version") or "").removeprefix("v"), chart.rsplit("-", 1)[-1].removeprefix("v")


def matches(rev: Mapping[str, Any], *, version: str, artifact: str) -> bool:
    app, chart = _version_of(rev)
    wanted = version.removeprefix("v")
    in_description = bool(artifact) and artifact != version and artifact in str(rev.get("description") or "")
    return (bool(wanted) and wanted in (app, chart)) or in_description


def restored(history: list[dict[str, Any]], req: RollbackRequest) -> dict[str, Any] | None:
    """The deployed revision when it already runs the stable version (unambiguously), else None."""
    deployed: dict[str, Any] | None = next(
        (r for r in reversed(history) if r.get("status") == "deployed"), None
    )
    if deployed is None or not matches(deployed, version=req.version, artifact=req.artifact):
        return None
    if not matches(deployed, version=req.failed_version, artifact=req.failed_artifact):
        return deployed
    # Same app version in the failed and the stable deploy: only "Rollback to N" with a matching N tells.
    m = re.fullmatch(r"Rollback to (\d+)", str(deployed.get("description") or ""))
    source = next((r for r in history if m and r.get("revision") == int(m.group(1))), None)
    return deployed if source is not None and source.get("status") in GOOD else None


def pick_revision(history: list[dict[str, Any]], req: RollbackRequest) -> dict[str, Any] | None:
    """The newest deployed/superseded revision of the stable version other than the one deployed now."""
    deployed: dict[str, Any] = next((r for r in reversed(history) if r.get("status") == "deployed"), {})
    good = [
        r
        for r in history
        if r.get("status") in GOOD
        and r.get("revision") != deployed.get("revision")
        and matches(r, version=req.version, artifact=req.artifact)
    ]
    return max(good, key=lambda r: int(r.get("revision", 0)), default=None)


class HelmTarget(RollsBackOnce[HelmTargetConfig]):
    def __init__(
        self,
        name: str,
        config: HelmTargetConfig,
        *,
        plumbing: Plumbing = BARE,
        poll_interval: float = 2.0,  # unused: `helm --wait` does the waiting; kept for one constructor shape
        backoff: Backoff | None = None,
        kill_grace: float = 5.0,
        slack: float = 30.0,
    ) -> None:
        super().__init__(name, config, plumbing)
        self._backoff = backoff or Backoff()
        self._kill_grace = kill_grace
        self._slack = slack  # beyond config.timeout: helm's --timeout bounds each step, not its whole run
        self._major: int | None = None

    async def _helm(self, log: Transcript, *args: str, timeout: float) -> str:
        argv = [self.config.helm, *args]
        if self.config.kube_context:
            argv += ["--kube-context", self.config.kube_context]
        try:
            fin = await process.run(argv, timeout=timeout, env=self._environ, kill_grace=self._kill_grace)
        except OSError as exc:
            raise TargetError(f"cannot run {self.config.helm}: {exc.strerror or exc}") from None
        status = "killed after timeout" if fin.timed_out else f"exit {fin.returncode}"
        log.note(f"$ {shlex.join(argv)} -> {status}")
        if args[0] != "history" and fin.stdout.strip():
            log.note("  " + excerpt(fin.stdout, limit=4000).replace("\n", "\n  "))
        if fin.stderr.strip():
            log.note("  stderr: " + excerpt(fin.stderr, limit=4000).replace("\n", "\n  "))
        if fin.timed_out:
            raise TargetError(f"helm {args[0]} did not finish within {timeout:g} s")
        if fin.returncode != 0:
            lines = fin.stderr.strip().splitlines() or [f"exit {fin.returncode}"]
            error = TransientTargetError if _TRANSIENT.search(fin.stderr) else TargetError
            raise error(f"helm {args[0]} failed: {lines[-1]}")
        return fin.stdout

    async def _history(self, log: Transcript) -> list[dict[str, Any]]:
        cfg = self.config
        out = await self._helm(
            log, "history", cfg.release, "-n", cfg.namespace, "-o", "json", "--max", "256", timeout=_QUICK
        )
        try:
            history = json.loads(out)
        except ValueError:
            raise TargetError(f"helm history printed no JSON: {excerpt(out, limit=200)}") from None
        if not isinstance(history, list):
            raise TargetError("helm history printed JSON that is not a list")
        return sorted((h for h in history if isinstance(h, dict)), key=lambda h: int(h.get("revision", 0)))

    async def _wait_flag(self, log: Transcript) -> str:
        """`--wait` for Helm 3; Helm 4 takes a strategy, and `watcher` is what a bare --wait meant there."""
        if self._major is None:
            out = await self._helm(log, "version", "--short", timeout=_QUICK)
            m = re.search(r"v(\d+)\.", out)
            self._major = int(m.group(1)) if m else 3
        return "--wait=watcher" if self._major >= 4 else "--wait"

    async def current(self, req: RollbackRequest) -> Current:
        history = await self._history(Transcript())
        deployed = next((r for r in reversed(history) if r.get("status") == "deployed"), None)
        if deployed is None:
            return Current(artifact=None, detail="no deployed revision")
        app, _ = _version_of(deployed)
        artifact = req.artifact if restored(history, req) is not None else (app or None)
        detail = (
            f"revision {deployed.get('revision')} ({deployed.get('chart')}, {deployed.get('description')})"
        )
        return Current(artifact=artifact, version=app or None, detail=detail)

    async def _perform(self, req: RollbackRequest) -> RollbackResult:
        """Retries whole attempts (each starts from `helm history`) while helm fails transiently."""
        log = Transcript()
        notes = RetryNotes(log)
        try:
            ok, detail = (
                await with_retries(lambda: self._attempt(log, req), backoff=self._backoff, on_retry=notes)
            ).value
        except WatchdogError as exc:
            ok, detail = False, str(exc)
        return RollbackResult(ok=ok, detail=log.clean(detail), output=log.text(), attempts=notes.attempts)

    async def _attempt(self, log: Transcript, req: RollbackRequest) -> tuple[bool, str]:
        """One try, starting from history, so a retry after a half-done rollback never rolls back twice."""
        cfg = self.config
        history = await self._history(log)
        if (now := restored(history, req)) is not None:
            log.note(f"revision {now['revision']} already runs {req.version}: nothing rolled back")
            return True, f"release {cfg.release} already runs {req.version} (revision {now['revision']})"
        rev = pick_revision(history, req)
        if rev is None:
            seen = ", ".join(f"{h.get('revision')}:{h.get('app_version')}:{h.get('status')}" for h in history)
            return False, (
                f"no deployed/superseded revision of release {cfg.release} has version {req.version}; "
                f"history (revision:app_version:status): {seen or 'empty'}"
            )
        wait = await self._wait_flag(log)
        seconds = max(1, math.ceil(cfg.timeout))
        await self._helm(
            log,
            "rollback",
            cfg.release,
            str(rev["revision"]),
            "-n",
            cfg.namespace,
            wait,
            "--timeout",
            f"{seconds}s",
            timeout=cfg.timeout + self._slack,
        )
        after = await self._history(log)
        if restored(after, req) is None:
            return (
                False,
                f"helm rollback to revision {rev['revision']} ran, but {req.version} is not deployed",
            )
        new = next(r for r in reversed(after) if r.get("status") == "deployed")
        return True, (
            f"release {cfg.release} rolled back to revision {rev['revision']} ({rev.get('chart')}, "
            f"app {rev.get('app_version')}); now revision {new['revision']} deployed"
        )
