"""Everything a running daemon holds, built once from Settings and handed to the API and the engine.

`build_runtime` is the only place that wires sources, targets, notifiers, store and policies together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchdog.clock import Clock, SystemClock
from watchdog.errors import ConfigError
from watchdog.notify.base import Notifier
from watchdog.policy.connections import DaemonConfig
from watchdog.policy.reload import PolicyHolder
from watchdog.settings import Settings
from watchdog.sources.base import Source
from watchdog.store import Store
from watchdog.telemetry import Metrics

if TYPE_CHECKING:
    from watchdog.engine.engine import Engine

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    policies: PolicyHolder
    clock: Clock
    metrics: Metrics
    engine: Engine


def build_available_sources(daemon: DaemonConfig, *, metrics: Metrics) -> dict[str, Source]:
    """Every configured source; one whose secret is missing is replaced by an inconclusive stand-in.

    The daemon starts anyway: checks on other sources still verify; the stand-in's reason says what to set.
    """
    from watchdog.sources.http import HttpSource
    from watchdog.sources.registry import HTTP, build_source
    from watchdog.sources.unavailable import UnavailableSource

    sources: dict[str, Source] = {HTTP: HttpSource(HTTP, metrics=metrics)}
    for name, config in daemon.sources.items():
        try:
            sources[name] = build_source(name, config, metrics=metrics)
        except ConfigError as exc:
            log.warning("source %s is unavailable: %s", name, exc)
            sources[name] = UnavailableSource(name, str(exc))
    return sources


def build_available_notifiers(daemon: DaemonConfig) -> dict[str, Notifier]:
    """Every configured notifier whose secret is there; the others are left out with a warning."""
    from watchdog.notify.registry import NOTIFIERS

    out: dict[str, Notifier] = {}
    for name, cfg in daemon.notifiers.items():
        try:
            out[name] = NOTIFIERS[cfg.type](name, cfg, None)
        except ConfigError as exc:
            log.warning("notifier %s is unavailable: %s", name, exc)
    return out


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    """Opens the store (migrating when allowed), loads policies and builds the engine with its plug-ins."""
    from watchdog.engine.engine import Engine
    from watchdog.engine.outputs import Outputs
    from watchdog.notify.dispatcher import Dispatcher
    from watchdog.targets.registry import build_targets

    clock = clock or SystemClock()
    metrics = Metrics()
    store = Store(settings.resolved_database_url)
    if settings.should_auto_migrate:
        store.upgrade()
    policies = PolicyHolder(settings.config_dir)
    daemon = policies.current.daemon
    sources = build_available_sources(daemon, metrics=metrics)
    targets = build_targets(daemon)
    dispatcher = Dispatcher(build_available_notifiers(daemon), metrics=metrics)
    outputs = Outputs(
        store=store,
        policies=policies,
        clock=clock,
        dispatcher=dispatcher,
        reports_dir=settings.resolved_reports_dir,
    )
    engine = Engine(
        store=store,
        policies=policies,
        sources=sources,
        targets=targets,
        clock=clock,
        metrics=metrics,
        settings=settings,
        outputs=outputs,
    )
    return Runtime(
        settings=settings, store=store, policies=policies, clock=clock, metrics=metrics, engine=engine
    )
