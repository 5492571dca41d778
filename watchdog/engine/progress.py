"""The live view in the daemon's terminal: one readable line per sample of every verification.

Through logging, so it is JSON under `log_format: json` and redacted like everything else. At most
LINES_PER_MINUTE lines a minute at INFO: a fleet's samples go to DEBUG, with one INFO line a minute in sum.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from watchdog.analysis.models import Judgement, Outcome
from watchdog.store.records import VerificationRow

log = logging.getLogger("watchdog.progress")

_MARK = {Outcome.PASS: "ok", Outcome.FAIL: "FAIL", Outcome.INCONCLUSIVE: "?"}
# A handful of verifications (the demo, a team's deploys) is a readable live view; thousands of lines a
# minute are not, and formatting them cost the engine CPU per sample. Over this, lines go to DEBUG.
LINES_PER_MINUTE = 120
MINUTE_S = 60.0


class _Budget:
    """How many lines went out at INFO this minute, and how many were held back to DEBUG."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.shown = 0
        self.held = 0

    def level(self) -> int:
        now = time.monotonic()
        if now - self.started >= MINUTE_S:
            if self.held:
                log.info(
                    "%d sample lines of the last minute held back (over %d a minute; DEBUG shows each)",
                    self.held,
                    LINES_PER_MINUTE,
                )
            self.started, self.shown, self.held = now, 0, 0
        if self.shown < LINES_PER_MINUTE:
            self.shown += 1
            return logging.INFO
        self.held += 1
        return logging.DEBUG


_budget = _Budget()


class Named(Protocol):
    """A deployment as far as a progress line names it (a DeploymentRow, or what the engine keeps of one)."""

    @property
    def id(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def environment(self) -> str: ...


def log_progress(
    *, v: VerificationRow, deployment: Named, k: int, total: int, judgements: Sequence[Judgement]
) -> None:
    level = _budget.level()
    if not log.isEnabledFor(level):
        return
    width = 20
    done = round(width * k / total) if total else width
    bar = "#" * done + "." * (width - done)
    parts = []
    for j in judgements:
        mark = "warm-up" if j.warmup else _MARK[j.outcome]
        detail = "" if j.outcome == Outcome.PASS or j.warmup else f" ({j.reason})"
        parts.append(f"{j.check}={mark}{detail}")
    kind = "rollback check " if v.kind == "rollback" else ""
    log.log(
        level,
        "%s%s/%s %s [%s] %d/%d t=%gs %s",
        kind,
        deployment.service,
        deployment.environment,
        v.version,
        bar,
        k,
        total,
        k * v.interval_s,
        "  ".join(parts),
        extra={"deployment_id": deployment.id, "service": deployment.service, "version": v.version},
    )
