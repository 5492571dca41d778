"""The source registry: one source per configured entry, the built-in http prober, loud failures.

Datadog and Sentry are built through the same table, imported only when configured.
"""

from __future__ import annotations

import pytest

from tests.sources.helpers import NOW, check, ctx
from watchdog.errors import ConfigError
from watchdog.policy.connections import DaemonConfig, ScrapeSourceConfig
from watchdog.sources.base import Source
from watchdog.sources.http import HttpSource
from watchdog.sources.prometheus import PrometheusSource
from watchdog.sources.registry import (
    SOURCE_TYPES,
    build_available_sources,
    build_sources,
    require_source,
    source_for,
)
from watchdog.sources.scrape import ScrapeSource
from watchdog.sources.unavailable import UnavailableSource, degraded
from watchdog.telemetry import Metrics

ENV = {"DD_API_KEY": "dd-api-key-1234", "DD_APP_KEY": "dd-app-key-1234", "SENTRY_TOKEN": "sentry-token-1234"}


def daemon() -> DaemonConfig:
    return DaemonConfig.model_validate(
        {
            "sources": {
                "prom": {"type": "prometheus", "url": "http://127.0.0.1:9090"},
                "app": {"type": "scrape", "url": "http://127.0.0.1:8000/metrics"},
                "dd": {"type": "datadog", "api_key_env": "DD_API_KEY", "app_key_env": "DD_APP_KEY"},
                "sentry": {"type": "sentry", "organization": "acme", "token_env": "SENTRY_TOKEN"},
            }
        }
    )


async def test_builds_every_configured_source_and_http() -> None:
    sources = build_sources(daemon(), metrics=Metrics(), environ=ENV)
    try:
        assert sorted(sources) == ["app", "dd", "http", "prom", "sentry"]
        assert isinstance(sources["prom"], PrometheusSource)
        assert isinstance(sources["app"], ScrapeSource)
        assert isinstance(sources["http"], HttpSource)
        assert type(sources["dd"]).__name__ == "DatadogSource"
        assert type(sources["sentry"]).__name__ == "SentrySource"
        assert all(isinstance(s, Source) for s in sources.values())
        assert {name: s.name for name, s in sources.items()} == {name: name for name in sources}
    finally:
        for s in sources.values():
            await s.aclose()


def test_table_is_literal() -> None:
    assert sorted(SOURCE_TYPES) == ["datadog", "prometheus", "scrape", "sentry"]


def test_unknown_type_fails_loudly() -> None:
    # A type no config model allows (model_construct skips validation): only the registry can refuse it.
    bogus = ScrapeSourceConfig.model_construct(type="graphite", url="http://x")  # type: ignore[arg-type]
    config = DaemonConfig.model_construct(sources={"g": bogus})
    with pytest.raises(
        ConfigError, match="unknown source type 'graphite'; known: datadog, http, prometheus, scrape, sentry"
    ):
        build_sources(config)


def test_http_name_is_reserved() -> None:
    config = DaemonConfig.model_validate({"sources": {"http": {"type": "scrape", "url": "http://x"}}})
    with pytest.raises(ConfigError, match="reserved"):
        build_sources(config)


async def test_source_for() -> None:
    sources = build_sources(
        DaemonConfig.model_validate({"sources": {"prom": {"type": "prometheus", "url": "u"}}})
    )
    try:
        assert source_for(check(type="http", url="http://x"), sources) is sources["http"]
        # `source` names nothing for an http check: it always probes through the built-in prober.
        assert source_for(check(type="http", url="http://x", source="prom"), sources) is sources["http"]
        assert source_for(check(type="metric", source="prom", query="up"), sources) is sources["prom"]
        assert source_for(check(type="metric", source="nope", query="up"), sources) is None
        assert require_source(check(type="metric", source="prom", query="up"), sources) is sources["prom"]
        with pytest.raises(ConfigError, match="unknown source 'nope'; configured: http, prom"):
            require_source(check(type="metric", source="nope", query="up"), sources)
        with pytest.raises(ConfigError, match="needs a `source`"):
            require_source(check(type="metric", query="up"), sources)
    finally:
        for s in sources.values():
            await s.aclose()


async def test_a_source_that_cannot_be_built_stands_in_with_its_reason() -> None:
    sources = build_available_sources(daemon(), environ={"DD_API_KEY": "dd-api-key-1234"})
    try:
        assert sorted(sources) == ["app", "dd", "http", "prom", "sentry"]
        assert isinstance(sources["http"], HttpSource) and isinstance(sources["app"], ScrapeSource)
        assert isinstance(sources["dd"], UnavailableSource) and isinstance(
            sources["sentry"], UnavailableSource
        )
        reasons = degraded(sources)
        assert sorted(reasons) == ["dd", "sentry"]
        assert "DD_APP_KEY" in reasons["dd"] and "SENTRY_TOKEN" in reasons["sentry"]
        answer = await sources["dd"].sample(
            check(type="metric", source="dd", query="q"), at=NOW, interval=30.0, ctx=ctx()
        )
        assert answer.error == f"source 'dd' is unavailable: {reasons['dd']}"
    finally:
        for s in sources.values():
            await s.aclose()
