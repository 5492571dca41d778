"""Everything one backtest run needs from outside: policy, past deploys, sources, store; closed when done.

Shared by `watchdog backtest` and `watchdog recommend`, so both replay exactly the same history.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from watchdog.backtest.build import Prepared
from watchdog.backtest.deploys import PastDeploy, read_deploys_file, store_deploys, with_records
from watchdog.backtest.history import HistoryFetcher
from watchdog.backtest.policyfile import load_policy
from watchdog.backtest.progress import Progress
from watchdog.backtest.run import prepare_all
from watchdog.errors import ConfigError, StoreError
from watchdog.policy.service import EnvironmentPolicy
from watchdog.redact import redact
from watchdog.settings import Settings
from watchdog.sources.base import Source
from watchdog.sources.registry import build_source
from watchdog.store import Store
from watchdog.store.db import describe


@dataclass
class History:
    policy: EnvironmentPolicy
    prepared: list[Prepared]
    fetcher: HistoryFetcher


async def gather_history(
    *,
    settings: Settings,
    service: str,
    environment: str,
    candidate: Path | None,
    since: timedelta,
    deploys_file: Path | None,
    deploys: list[PastDeploy] | None = None,
    now: datetime | None = None,
) -> History:
    """Loads the policy and the deploys, fetches each deploy's history; raises ConfigError on bad input."""
    now = now or datetime.now(UTC)
    _set, policy = load_policy(
        config=settings.files.config_dir, service=service, environment=environment, candidate=candidate
    )
    given = deploys is not None or deploys_file is not None
    store = _open_store(settings, required=not given)
    try:
        if deploys is None:
            deploys = _deploys(
                store, deploys_file, service=service, environment=environment, since=now - since
            )
        elif store is not None:
            deploys = with_records(store, deploys, service=service, environment=environment)
    finally:
        if store is not None:
            store.close()
    sources = _sources(_set.daemon, policy)
    fetcher = HistoryFetcher()
    try:
        prepared = await prepare_all(
            deploys,
            policy=policy,
            sources=sources,
            service=service,
            environment=environment,
            now=now,
            fetcher=fetcher,
            progress=Progress(what=f"replaying {len(deploys)} deploys"),
        )
    finally:
        for source in sources.values():
            await source.aclose()
    return History(policy=policy, prepared=prepared, fetcher=fetcher)


def _deploys(
    store: Store | None, path: Path | None, *, service: str, environment: str, since: datetime
) -> list[PastDeploy]:
    if path is not None:
        deploys = read_deploys_file(path)
        if store is None:
            return deploys
        return with_records(store, deploys, service=service, environment=environment)
    assert store is not None
    return store_deploys(store, service=service, environment=environment, since=since)


def _open_store(settings: Settings, *, required: bool) -> Store | None:
    """The daemon's store, read only here; with a deploys file it is optional (it adds recorded verdicts)."""
    url = settings.resolved_database_url
    if (
        not required
        and settings.store.database_url is None
        and not (settings.files.data_dir / "watchdog.db").exists()
    ):
        return None
    try:
        store = Store(url)
    except (StoreError, SQLAlchemyError) as exc:
        if required:
            raise ConfigError(
                f"the store cannot be read ({redact(str(exc))}); or pass --deploys FILE"
            ) from None
        return None
    if not store.ping():
        store.close()
        if required:
            raise ConfigError(f"the store {describe(url)} cannot be reached; or pass --deploys FILE")
        return None
    return store


def _sources(daemon: object, policy: EnvironmentPolicy) -> dict[str, Source]:
    """Only the sources the policy's checks use: an unused one needs no secret to backtest."""
    configured = getattr(daemon, "sources", {})
    names = {c.source for c in policy.checks if c.type != "http" and c.source}
    for check in policy.checks:
        control = getattr(check, "control", None)
        if control is not None and getattr(control, "source", None):
            names.add(control.source)
    out: dict[str, Source] = {}
    for name in sorted(names):
        if name in configured:
            out[name] = build_source(name, configured[name], environ=os.environ)
    return out
