"""What the daemon hands every plug-in (source, target, notifier): metrics, environment, HTTP transport.

Built once by the registries and passed whole, so a plug-in's constructor names only its own options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from watchdog.telemetry import Metrics


@dataclass(frozen=True)
class Plumbing:
    """None everywhere is the daemon's plain form: no metrics, the process environment, the real network."""

    metrics: Metrics | None = None
    # None: the process environment, read when a secret or `${NAME}` is needed (so a reload sees changes).
    environ: Mapping[str, str] | None = None
    # Tests hand a loopback or mock transport here; None: httpx's own.
    transport: httpx.AsyncBaseTransport | None = None


BARE = Plumbing()
