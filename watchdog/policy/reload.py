"""Holds the last good PolicySet and swaps in a new one only when the files on disk are valid again.

A broken edit never takes the daemon's policies away: it is logged, counted and shown by /readyz and /metrics.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily

from watchdog.errors import ConfigError, Problem
from watchdog.policy.loader import PolicySet, file_stamps, load_config_dir

log = logging.getLogger("watchdog.policy")


class PolicyHolder:
    def __init__(self, config_dir: Path, *, initial: PolicySet | None = None) -> None:
        """Loads `config_dir` at once unless `initial` is given; raises ConfigError when it is invalid."""
        self.config_dir = Path(config_dir)
        self._current = initial if initial is not None else load_config_dir(self.config_dir)
        # The stamps of the files last tried, valid or not, so a broken file is reported once.
        self._tried = self._current.stamps
        self.errors_total = 0  # refused reloads since start: watchdog_policy_reload_errors_total
        self.failing: list[Problem] = []  # the last try's problems; empty once a reload succeeds again
        self.failed_at: datetime | None = None

    @property
    def current(self) -> PolicySet:
        return self._current

    def reload(self) -> list[Problem]:
        """Loads the files again; on problems, logs each one and keeps the previous set."""
        self._tried = file_stamps(self.config_dir)
        try:
            new = load_config_dir(self.config_dir)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("policy reload refused: %s", problem)
            log.error("kept the previous policies (%s problems in %s)", len(exc.problems), self.config_dir)
            self.errors_total += 1
            self.failing = list(exc.problems)
            self.failed_at = datetime.now(UTC)
            return list(exc.problems)
        self._current = new
        self.failing, self.failed_at = [], None
        log.info("policies reloaded from %s: %s", self.config_dir, new.summary())
        return []

    def reload_if_changed(self) -> list[Problem]:
        """Reloads only when a file was added, removed or changed since the last try (a stat per file)."""
        if file_stamps(self.config_dir) == self._tried:
            return []
        return self.reload()

    async def reload_if_changed_async(self) -> list[Problem]:
        """The same, in a thread: parsing and validating never stall the API or the engine's ticks."""
        return await asyncio.to_thread(self.reload_if_changed)

    def failure_summary(self) -> str | None:
        """One line for /readyz: the last reload was refused, so the daemon runs the previous policies."""
        if not self.failing:
            return None
        first = self.failing[0]
        more = f" (and {len(self.failing) - 1} more)" if len(self.failing) > 1 else ""
        return f"policy reload refused, previous policies kept: {first}{more}"


def reload_exposition(holder: PolicyHolder) -> bytes:
    """`watchdog_policy_reload_errors_total` in the Prometheus text format, read from the holder."""

    class _Collector:
        def collect(self) -> list[CounterMetricFamily]:
            family = CounterMetricFamily(
                "watchdog_policy_reload_errors", "Policy reloads refused (the previous policies stay)"
            )
            family.add_metric([], holder.errors_total)
            return [family]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)
