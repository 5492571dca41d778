"""The live view in the daemon's terminal: one readable line per sample of every verification.

Through logging, so it is JSON under `log_format: json` and redacted like everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from watchdog.analysis.models import Judgement, Outcome
from watchdog.store.records import DeploymentRow, VerificationRow

log = logging.getLogger("watchdog.progress")

_MARK = {Outcome.PASS: "ok", Outcome.FAIL: "FAIL", Outcome.INCONCLUSIVE: "?"}


def log_progress(
    *, v: VerificationRow, deployment: DeploymentRow, k: int, total: int, judgements: Sequence[Judgement]
) -> None:
    width = 20
    done = round(width * k / total) if total else width
    bar = "#" * done + "." * (width - done)
    parts = []
    for j in judgements:
        mark = "warm-up" if j.warmup else _MARK[j.outcome]
        detail = "" if j.outcome == Outcome.PASS or j.warmup else f" ({j.reason})"
        parts.append(f"{j.check}={mark}{detail}")
    kind = "rollback check " if v.kind == "rollback" else ""
    log.info(
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
