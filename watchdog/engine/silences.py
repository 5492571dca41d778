"""Holds an Alertmanager silence while a deployment is verified: created, extended, expired at the verdict.

A periodic job (scheduled from Engine.start) compares the store's running verifications with the
silences this daemon holds. A silence always ends a little past the window (or past now, while the
verification runs late), so if the daemon dies it lapses by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from watchdog.clock import Clock
from watchdog.engine.background import every
from watchdog.errors import NotFound
from watchdog.events import SAMPLING, State
from watchdog.notify.alertmanager import AlertmanagerNotifier, Silence, comment_for
from watchdog.notify.base import Notifier
from watchdog.policy.service import SilencePolicy
from watchdog.redact import redact
from watchdog.store import Store
from watchdog.store.records import VerificationRow

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from watchdog.engine.engine import Engine

log = logging.getLogger(__name__)
_RUNNING = {*(s.value for s in SAMPLING), State.ROLLING_BACK.value}


def window_end(v: VerificationRow) -> datetime:
    return v.starts_at + timedelta(seconds=v.samples_total * v.interval_s)


class SilenceKeeper:
    def __init__(self, *, store: Store, notifiers: Mapping[str, Notifier], clock: Clock, owner: str) -> None:
        self.store, self.notifiers, self.clock, self.owner = store, notifiers, clock, owner
        self._warned: set[str] = set()

    def alertmanagers(self) -> dict[str, AlertmanagerNotifier]:
        return {k: n for k, n in self.notifiers.items() if isinstance(n, AlertmanagerNotifier)}

    async def sync(self) -> None:
        """One pass: every alertmanager's silences brought in line with the running verifications."""
        ams = self.alertmanagers()
        if not ams:
            # Nothing to keep: without this, every pass read (and decoded) every running verification,
            # a cost that grew with their number on a daemon that holds no silences at all.
            return
        running = await asyncio.to_thread(self.store.unfinished_verifications)
        now = self.clock.now()
        wanted: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in ams}
        running_ids = {v.deployment_id for v in running}
        for v in running:
            # Another live replica holds this one: its silences are that replica's to keep.
            if v.lease_owner not in (None, self.owner) and v.lease_until is not None and v.lease_until > now:
                continue
            want = await self._wanted(v, ams)
            if want is None:
                continue
            name, matchers, comment, margin = want
            end = max(window_end(v), now) + timedelta(seconds=margin)
            slot = wanted[name].setdefault(
                v.deployment_id, {"matchers": matchers, "comment": comment, "end": end}
            )
            slot["end"] = max(slot["end"], end)
        for name, am in ams.items():
            try:
                await self._sync_one(am, wanted[name], running_ids, now)
            except Exception as exc:
                log.warning("%s", redact(f"alertmanager {name}: silences not synced: {exc}"))

    async def _wanted(
        self, v: VerificationRow, ams: Mapping[str, AlertmanagerNotifier]
    ) -> tuple[str, list[dict[str, object]], str, float] | None:
        if v.kind == "deploy" and not v.policy.get("silence"):
            return None  # a deploy verification carries its whole policy: no silence, no store read
        try:
            dep = await asyncio.to_thread(self.store.get_deployment, v.deployment_id)
        except NotFound:
            return None
        raw = dep.policy.get("silence")
        if not raw:
            return None
        try:
            policy = SilencePolicy.model_validate(raw)
        except ValidationError:
            return None
        am = ams.get(policy.alertmanager)
        if am is None:
            if policy.alertmanager not in self._warned:
                self._warned.add(policy.alertmanager)
                log.warning("silence: no alertmanager named %r under notifiers:", policy.alertmanager)
            return None
        comment = comment_for(
            service=dep.service, environment=dep.environment, version=dep.version, deployment_id=dep.id
        )
        return policy.alertmanager, policy.parsed(), comment, am.margin_s

    async def _sync_one(
        self,
        am: AlertmanagerNotifier,
        wanted: dict[str, dict[str, Any]],
        running_ids: set[str],
        now: datetime,
    ) -> None:
        held: dict[str, list[Silence]] = {}
        for s in await am.ours():
            if s.deployment_id is not None:
                held.setdefault(s.deployment_id, []).append(s)
        for dep_id, want in wanted.items():
            mine = sorted(held.pop(dep_id, []), key=lambda s: s.ends_at)
            for extra in mine[:-1]:  # a crash between create and list can leave two: keep one
                await am.expire(extra.id)
            current = mine[-1] if mine else None
            if current is None:
                sid = await am.put(
                    matchers=want["matchers"], starts_at=now, ends_at=want["end"], comment=want["comment"]
                )
                log.info("silence %s held for deployment %s until %s", sid, dep_id, want["end"].isoformat())
            elif current.ends_at < want["end"] - timedelta(seconds=am.sync_every_s):
                sid = await am.put(
                    matchers=want["matchers"],
                    starts_at=now,
                    starts_at_raw=current.starts_at_raw,
                    ends_at=want["end"],
                    comment=want["comment"],
                    silence_id=current.id,
                )
                log.info("silence %s of deployment %s extended to %s", sid, dep_id, want["end"].isoformat())
        for dep_id, silences in held.items():
            if dep_id in running_ids or not await self._ours(dep_id):
                continue
            for s in silences:
                await am.expire(s.id)
                log.info("silence %s of deployment %s expired: the verification is over", s.id, dep_id)

    async def _ours(self, deployment_id: str) -> bool:
        """A deployment of this store (another daemon on the same Alertmanager keeps its own)."""
        try:
            await asyncio.to_thread(self.store.get_deployment, deployment_id)
        except NotFound:
            return False
        return True


def schedule(engine: Engine, sched: AsyncIOScheduler) -> SilenceKeeper:
    """What Engine.start calls: a job keeping silences, as often as the quickest alertmanager asks."""
    keeper = SilenceKeeper(
        store=engine.store,
        notifiers=engine.announcer.dispatcher.notifiers,
        clock=engine.clock,
        owner=engine.owner,
    )
    interval = min((am.sync_every_s for am in keeper.alertmanagers().values()), default=5.0)
    every(sched, keeper.sync, id="silences", seconds=max(0.2, interval))
    return keeper
