"""The daemon's own Prometheus metrics, its logging set-up (JSON or text, redacted) and Sentry set-up.

Metrics live on a registry owned by the runtime, so tests build their own instead of patching globals.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from watchdog.redact import redact


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        # Every metric lives on this runtime's registry, never on prometheus_client's global one.
        counter = partial(Counter, registry=self.registry)
        gauge = partial(Gauge, registry=self.registry)
        histogram = partial(Histogram, registry=self.registry)
        self.events = counter(
            "watchdog_events_total", "Inbound deploy events by source and outcome", ["source", "outcome"]
        )
        self.verifications = gauge("watchdog_verifications", "Deploy verifications by state", ["state"])
        self.transitions = counter("watchdog_transitions_total", "Verification state transitions", ["state"])
        self.samples = counter(
            "watchdog_samples_total", "Samples by check type and outcome", ["type", "outcome"]
        )
        self.rollbacks = counter(
            "watchdog_rollbacks_total", "Rollbacks by target type and outcome", ["target", "outcome"]
        )
        self.tick_lag = histogram(
            "watchdog_tick_lag_seconds",
            "How late a sample was taken after it was due",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
        )
        self.source_requests = counter(
            "watchdog_source_requests_total", "Requests to metric sources", ["source", "outcome"]
        )
        self.source_errors = counter(
            "watchdog_source_errors_total", "Source errors by kind", ["source", "kind"]
        )
        self.source_latency = histogram(
            "watchdog_source_request_seconds", "Source request latency", ["source"]
        )
        self.source_cache = counter(
            "watchdog_source_cache_total", "Source query cache lookups", ["source", "result"]
        )
        self.overload_samples = counter(
            "watchdog_overload_samples_total",
            "Samples made inconclusive by the daemon's own lateness (queueing, event-loop lag)",
        )
        self.gap_samples = counter(
            "watchdog_gap_samples_total",
            "Samples nobody took in time (daemon down, lease lost or overloaded), recorded as gaps",
        )
        self.loop_lag = gauge("watchdog_event_loop_lag_seconds", "How late the event loop's last wake-up was")
        self.loop_lag_hist = histogram(
            "watchdog_event_loop_lag_observed_seconds",
            "Event-loop wake-up lag, every measurement",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
        )
        self.notifications = counter(
            "watchdog_notifications_total", "Notifications by notifier and outcome", ["notifier", "outcome"]
        )


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("deployment_id", "service", "environment", "version", "check"):
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, default=str))


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(*, level: str = "INFO", fmt: str = "text") -> None:
    """Every handler's output passes through the redactor: a secret cannot reach a log line."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
