"""Builds the named sources of `config/watchdog.yaml` from a literal table of source types, and says
which source a check uses. An unknown type fails loudly; the built-in `http` source is always present.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from watchdog.errors import ConfigError
from watchdog.plumbing import Plumbing
from watchdog.policy.checks import HttpCheck
from watchdog.policy.connections import DaemonConfig
from watchdog.sources.base import AnyCheck, Source
from watchdog.sources.unavailable import UnavailableSource
from watchdog.telemetry import Metrics

# (name, config, plumbing) -> Source
Factory = Callable[[str, Any, Plumbing], Source]


def _prometheus(name: str, config: Any, plumbing: Plumbing) -> Source:
    from watchdog.sources.prometheus import PrometheusSource

    return PrometheusSource(name, config, plumbing=plumbing)


def _scrape(name: str, config: Any, plumbing: Plumbing) -> Source:
    from watchdog.sources.scrape import ScrapeSource

    return ScrapeSource(name, config, plumbing=plumbing)


def _datadog(name: str, config: Any, plumbing: Plumbing) -> Source:
    # Imported on use: datadog-api-client is heavy, and most daemons never build this source.
    from watchdog.sources.datadog import DatadogSource

    source: Source = DatadogSource(name, config, plumbing=plumbing)
    return source


def _sentry(name: str, config: Any, plumbing: Plumbing) -> Source:
    from watchdog.sources.sentry import SentrySource

    source: Source = SentrySource(name, config, plumbing=plumbing)
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
    """One source per entry of `daemon.sources`, plus the built-in `http` prober; ConfigError on the first
    that cannot be built."""
    plumbing = Plumbing(metrics=metrics, environ=environ)
    sources = {name: _build(name, c, plumbing) for name, c in daemon.sources.items()}
    sources[HTTP] = _http(plumbing)
    return sources


def build_available_sources(
    daemon: DaemonConfig, *, metrics: Metrics | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Source]:
    """As `build_sources`, but a source that cannot be built (a missing secret) is an inconclusive stand-in.

    So the daemon starts anyway: checks on other sources still verify; `degraded()` lists the stand-ins.
    """
    plumbing = Plumbing(metrics=metrics, environ=environ)
    sources: dict[str, Source] = {HTTP: _http(plumbing)}
    for name, config in daemon.sources.items():
        sources[name] = _build_or_standin(name, config, plumbing)
    return sources


def build_source(
    name: str, config: Any, *, metrics: Metrics | None = None, environ: Mapping[str, str] | None = None
) -> Source:
    """One configured source; ConfigError when its type is unknown or a secret it needs is missing."""
    return _build(name, config, Plumbing(metrics=metrics, environ=environ))


def build_or_standin(
    name: str, config: Any, *, metrics: Metrics | None = None, environ: Mapping[str, str] | None = None
) -> Source:
    """One configured source, or the stand-in whose every sample says why it could not be built."""
    return _build_or_standin(name, config, Plumbing(metrics=metrics, environ=environ))


def _build(name: str, config: Any, plumbing: Plumbing) -> Source:
    factory = SOURCE_TYPES.get(config.type)
    if factory is None:
        raise ConfigError(f"unknown source type '{config.type}'; known: {', '.join(known_types())}")
    if name == HTTP:
        raise ConfigError("source name 'http' is reserved for the built-in http prober")
    return factory(name, config, plumbing)


def _build_or_standin(name: str, config: Any, plumbing: Plumbing) -> Source:
    try:
        return _build(name, config, plumbing)
    except ConfigError as exc:
        return UnavailableSource(name, str(exc))


def _http(plumbing: Plumbing) -> Source:
    from watchdog.sources.http import HttpSource

    return HttpSource(HTTP, plumbing=plumbing)


def source_name(check: AnyCheck) -> str:
    """The one rule for which source a check uses: http checks the built-in prober, others the one named."""
    return HTTP if isinstance(check, HttpCheck) else (check.source or "")


def source_for(check: AnyCheck, sources: Mapping[str, Source]) -> Source | None:
    """The source a check samples from, primes and forgets on; None when that name is not configured."""
    return sources.get(source_name(check))


def require_source(check: AnyCheck, sources: Mapping[str, Source]) -> Source:
    """As `source_for`, for a caller that reports the problem instead: ConfigError naming what is missing."""
    source = source_for(check, sources)
    if source is not None:
        return source
    if not isinstance(check, HttpCheck) and not check.source:
        raise ConfigError(f"check {check.name}: a {check.type} check needs a `source`")
    known = ", ".join(sorted(sources)) or "none"
    raise ConfigError(f"check {check.name}: unknown source '{source_name(check)}'; configured: {known}")
