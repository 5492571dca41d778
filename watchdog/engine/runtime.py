"""Everything a running daemon holds, built once from Settings and handed to the API and the engine.

`build_runtime` is the only place that wires sources, targets, notifiers, store and policies together.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchdog.clock import Clock, SystemClock
from watchdog.policy.reload import PolicyHolder
from watchdog.settings import Settings
from watchdog.store import Store, db
from watchdog.telemetry import Metrics

if TYPE_CHECKING:
    from watchdog.engine.engine import Engine
    from watchdog.sources.base import Source
    from watchdog.targets.base import Target

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    policies: PolicyHolder
    clock: Clock
    metrics: Metrics
    engine: Engine


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    sources: Mapping[str, Source] | None = None,
    targets: Mapping[str, Target] | None = None,
    notify_retry_delay: float | None = None,
) -> Runtime:
    """Opens the store (migrating when allowed), loads policies and builds the engine with its plug-ins.

    `watchdog serve` passes settings alone. Tests and benches pass the same settings plus what stands in for
    the outside world: a fake clock, a shared store, sources or targets that replace the daemon file's entry
    of the same name, a shorter notification retry delay. Everything else is built here, as in production.
    """
    from watchdog.engine.announcer import Announcer
    from watchdog.engine.engine import Engine
    from watchdog.engine.plugins import build_available_sources
    from watchdog.notify.dispatcher import Dispatcher
    from watchdog.notify.registry import available_notifiers
    from watchdog.targets.registry import build_targets

    clock = clock or SystemClock()
    metrics = Metrics()
    store = store or Store(settings.resolved_database_url)
    if settings.should_auto_migrate and store.upgrade():
        # Said once, loudly: on a first start it is expected; after a lost or misplaced database file it is
        # the only sign that the stable versions to roll back to and every open verification are gone.
        log.warning(
            "store: %s held no schema; created an empty store (a first start, or the database was lost: "
            "no earlier deployment, stable version or open verification is known)",
            db.describe(store.url),
        )
    policies = PolicyHolder(settings.files.config_dir)
    daemon = policies.current.daemon
    # A replaced entry is never built (no client of it is opened); the http prober opens its client lazily.
    replaced = dict(sources or {})
    kept = {name: config for name, config in daemon.sources.items() if name not in replaced}
    built = build_available_sources(daemon.model_copy(update={"sources": kept}), metrics=metrics)
    all_sources = {**built, **replaced}
    _refuse_missing_sources(policies, all_sources, store)
    all_targets = {**build_targets(daemon), **(targets or {})}
    notifiers = available_notifiers(daemon)
    dispatcher = (
        Dispatcher(notifiers, metrics=metrics)
        if notify_retry_delay is None
        else Dispatcher(notifiers, metrics=metrics, base_delay=notify_retry_delay)
    )
    announcer = Announcer(
        store=store,
        policies=policies,
        clock=clock,
        dispatcher=dispatcher,
        reports_dir=settings.resolved_reports_dir,
    )
    engine = Engine(
        store=store,
        policies=policies,
        sources=all_sources,
        targets=all_targets,
        clock=clock,
        metrics=metrics,
        settings=settings.engine,
        announcer=announcer,
    )
    return Runtime(
        settings=settings, store=store, policies=policies, clock=clock, metrics=metrics, engine=engine
    )


def _refuse_missing_sources(policies: PolicyHolder, sources: Mapping[str, Source], store: Store) -> None:
    """`on_missing_source: fail_start`: a policy that would rather not start than verify without its data."""
    from watchdog.errors import ConfigError, Problem
    from watchdog.policy.missing import fail_start_problems
    from watchdog.sources.unavailable import degraded

    problems = fail_start_problems(policies.current, degraded(sources))
    if problems:
        store.close()
        raise ConfigError([Problem("<config>", 0, 0, p) for p in problems])
