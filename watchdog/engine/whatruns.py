"""Before a target is called again after a crash: what runs now, the restored version or the bad one?

The target's `current()` first; for targets that cannot tell, the policy's http checks naming the version.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from watchdog.clock import Clock
from watchdog.policy.checks import HttpCheck
from watchdog.policy.service import EnvironmentPolicy
from watchdog.redact import redact
from watchdog.sources.base import SampleContext, Source
from watchdog.sources.registry import source_for
from watchdog.targets.base import RollbackRequest, Target

log = logging.getLogger(__name__)

Running = Literal["restored", "bad", "unknown"]


@dataclass(frozen=True)
class WhatRuns:
    running: Running
    detail: str


def reports_version(check: HttpCheck) -> bool:
    """An http check whose expected body names `{{ version }}` can tell one version from another."""
    return "{{ version }}" in json.dumps(check.expect.json_) or "{{ version }}" in (check.expect.body or "")


async def what_runs(
    *,
    target: Target,
    req: RollbackRequest,
    policy: EnvironmentPolicy,
    sources: Mapping[str, Source],
    clock: Clock,
) -> WhatRuns:
    try:
        current = await target.current(req)
    except Exception as exc:
        log.warning("%s", redact(f"target {target.name} could not say what runs: {exc}"))
    else:
        if current.artifact is not None or current.version is not None:
            if current.artifact == req.artifact or (
                current.artifact is None and current.version == req.version
            ):
                return WhatRuns("restored", f"target {target.name} runs {req.artifact}")
            return WhatRuns("bad", f"target {target.name} runs {current.artifact or current.version}")
    checks = [c for c in policy.checks if isinstance(c, HttpCheck) and reports_version(c)]
    http = source_for(checks[0], sources) if checks else None
    if http is None or not checks:
        return WhatRuns("unknown", f"neither {target.name} nor an http check can say what runs")
    for version, artifact, verdict in (
        (req.version, req.artifact, "restored"),
        (req.failed_version, req.failed_artifact, "bad"),
    ):
        ctx = SampleContext(
            deployment_id=req.deployment_id,
            verification_id="",
            service=req.service,
            environment=req.environment,
            version=version,
            artifact=artifact,
            deployed_at=clock.now(),
            labels={},
        )
        answers = [await http.sample(c, at=clock.now(), interval=1.0, ctx=ctx) for c in checks]
        if all(m.values.get("up") == 1.0 for m in answers):
            running: Running = "restored" if verdict == "restored" else "bad"
            return WhatRuns(running, f"the http check {checks[0].name} reports {version}")
    return WhatRuns("unknown", "the http checks report neither version")
