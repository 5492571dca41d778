"""Builds the named sources of `config/watchdog.yaml` from a literal table of source types.

An unknown type fails loudly with the known ones listed; the built-in `http` source is always present.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from watchdog.errors import ConfigError
from watchdog.policy.checks import HttpCheck
from watchdog.policy.connections import DaemonConfig
from watchdog.sources.base import AnyCheck, Source
from watchdog.telemetry import Metrics

# (name, config, metrics, environ) -> Source
Factory = Callable[[str, Any, Metrics | None, Mapping[str, str] | None], Source]


def _prometheus(name: str, config: Any, metrics: Metrics | None, environ: Mapping[str, str] | None) -> Source:
    from watchdog.sources.prometheus import PrometheusSource

    return PrometheusSource(name, config, metrics=metrics, environ=environ)


def _scrape(name: str, config: Any, metrics: Metrics | None, environ: Mapping[str, str] | None) -> Source:
    from watchdog.sources.scrape import ScrapeSource

    return ScrapeSource(name, config, metrics=metrics, environ=environ)


def _datadog(name: str, config: Any, metrics: Metrics | None, environ: Mapping[str, str] | None) -> Source:
    # Imported on use: datadog-api-client is heavy, and most daemons never build this source.
    from watchdog.sources.datadog import DatadogSource

    source: Source = DatadogSource(name, config, metrics=metrics, environ=environ)
    return source


def _sentry(name: str, config: Any, metrics: Metrics | None, environ: Mapping[str, str] | None) -> Source:
    from watchdog.sources.sentry import SentrySource

    source: Source = SentrySource(name, config, metrics=metrics, environ=environ)
    return source


SOURCE_TYPES: dict[str, Factory] = {
    "prometheus": _prometheus,
    "scrape": _scrape,
    "datadog": _datadog,
    "sentry": _sentry,
}
HTTP = "http"


def known_types() -> list[str]:
    return sorted([*SOURCE_TYPES, HTTP])


def build_sources(
    daemon: DaemonConfig, *, metrics: Metrics | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Source]:
    """One source per entry of `daemon.sources`, plus the built-in `http` prober."""
    from watchdog.sources.http import HttpSource

    sources: dict[str, Source] = {}
    for name, config in daemon.sources.items():
        sources[name] = build_source(name, config, metrics=metrics, environ=environ)
    sources[HTTP] = HttpSource(HTTP, metrics=metrics, environ=environ)
    return sources


def build_source(
    name: str, config: Any, *, metrics: Metrics | None = None, environ: Mapping[str, str] | None = None
) -> Source:
    """One configured source; ConfigError when its type is unknown or a secret it needs is missing."""
    factory = SOURCE_TYPES.get(config.type)
    if factory is None:
        raise ConfigError(f"unknown source type '{config.type}'; known: {', '.join(known_types())}")
    if name == HTTP:
        raise ConfigError("source name 'http' is reserved for the built-in http prober")
    return factory(name, config, metrics, environ)


def source_for(check: AnyCheck, sources: Mapping[str, Source]) -> Source:
    """The source a check samples from: http checks use the built-in prober, others name theirs."""
    if isinstance(check, HttpCheck):
        # `source` is unused for http except `replay` in scenarios, which replays recorded probe results.
        name = "replay" if check.source == "replay" and "replay" in sources else HTTP
    else:
        if not check.source:
            raise ConfigError(f"check {check.name}: a {check.type} check needs a `source`")
        name = check.source
    try:
        return sources[name]
    except KeyError:
        known = ", ".join(sorted(sources)) or "none"
        raise ConfigError(f"check {check.name}: unknown source '{name}'; configured: {known}") from None
