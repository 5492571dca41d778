"""The live plug-ins the daemon file names (sources, targets, notifiers), built and kept current on reload.

Entries whose config did not change keep their object (and its state, such as scrape counters); a missing
secret degrades a source to an inconclusive stand-in and leaves a notifier out, with a warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from watchdog.notify.base import Notifier
from watchdog.policy.connections import DaemonConfig
from watchdog.sources.base import Source
from watchdog.targets.base import Target
from watchdog.telemetry import Metrics

log = logging.getLogger(__name__)

# In-flight samples may still use a replaced source: its client is closed only after this long.
RETIRE_AFTER_S = 60.0


def build_available_sources(daemon: DaemonConfig, *, metrics: Metrics) -> dict[str, Source]:
    """Every configured source; one whose secret is missing is replaced by an inconclusive stand-in.

    The daemon starts anyway: checks on other sources still verify; the stand-in's reason says what to set.
    """
    from watchdog.sources.registry import build_available_sources as build
    from watchdog.sources.unavailable import degraded

    sources = build(daemon, metrics=metrics)
    for name, reason in degraded(sources).items():
        log.warning("source %s is unavailable: %s", name, reason)
    return sources


def _source_or_standin(name: str, config: Any, *, metrics: Metrics) -> Source:
    from watchdog.sources.registry import build_or_standin
    from watchdog.sources.unavailable import UnavailableSource

    source = build_or_standin(name, config, metrics=metrics)
    if isinstance(source, UnavailableSource):
        log.warning("source %s is unavailable: %s", name, source.reason)
    return source


def refresh(
    *,
    old: DaemonConfig,
    new: DaemonConfig,
    sources: MutableMapping[str, Source],
    targets: MutableMapping[str, Target],
    notifiers: MutableMapping[str, Notifier],
    metrics: Metrics,
) -> list[Source]:
    """Brings the three mappings in line with `new`, in place; returns the sources it replaced or removed."""
    from watchdog.notify.registry import notifier_or_none
    from watchdog.sources.registry import HTTP
    from watchdog.targets.registry import build_target

    retired: list[Source] = []
    for name in set(sources) - {HTTP}:
        if name not in new.sources or new.sources[name] != old.sources.get(name):
            retired.append(sources.pop(name))
    for name, config in new.sources.items():
        if name not in sources:
            sources[name] = _source_or_standin(name, config, metrics=metrics)
    _sync(targets, old=old.targets, new=new.targets, build=build_target)
    _sync(notifiers, old=old.notifiers, new=new.notifiers, build=notifier_or_none)
    return retired


def _sync(
    current: MutableMapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any], build: Any
) -> None:
    for name in list(current):
        if name not in new or new[name] != old.get(name):
            del current[name]
    for name, config in new.items():
        if name not in current and (built := build(name, config)) is not None:
            current[name] = built


async def close_later(retired: list[Source], *, delay: float = RETIRE_AFTER_S) -> None:
    await asyncio.sleep(delay)
    await close_all(retired, what="the replaced source")


async def close_all(sources: Iterable[Source], *, what: str = "the source") -> None:
    """Closes each source's clients (their pooled connections), as the process stops or a reload retires
    them; left to the garbage collector, aiohttp says "Unclosed client session" as an ERROR at exit."""
    for source in list(sources):
        try:
            await source.aclose()
        except Exception:
            log.warning("closing %s %s failed", what, source.name, exc_info=True)
