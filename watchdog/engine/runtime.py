"""Everything a running daemon holds, built once from Settings and handed to the API and the engine.

`build_runtime` is the only place that wires sources, targets, notifiers, store and policies together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchdog.clock import Clock, SystemClock
from watchdog.policy.reload import PolicyHolder
from watchdog.settings import Settings
from watchdog.store import Store
from watchdog.telemetry import Metrics

if TYPE_CHECKING:
    from watchdog.engine.engine import Engine
    from watchdog.sources.base import Source


@dataclass
class Runtime:
    settings: Settings
    store: Store
    policies: PolicyHolder
    clock: Clock
    metrics: Metrics
    engine: Engine


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    """Opens the store (migrating when allowed), loads policies and builds the engine with its plug-ins."""
    from watchdog.engine.connections import build_available_notifiers, build_available_sources
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
    _refuse_missing_sources(policies, sources, store)
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


def _refuse_missing_sources(policies: PolicyHolder, sources: Mapping[str, Source], store: Store) -> None:
    """`on_missing_source: fail_start`: a policy that would rather not start than verify without its data."""
    from watchdog.errors import ConfigError, Problem
    from watchdog.policy.missing import fail_start_problems
    from watchdog.sources.unavailable import degraded

    problems = fail_start_problems(policies.current, degraded(sources))
    if problems:
        store.close()
        raise ConfigError([Problem("<config>", 0, 0, p) for p in problems])
