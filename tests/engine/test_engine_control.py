"""A check with compare_to: control through the whole engine: the control twin is sampled with the check,
its values are stored in the same sample, and the verdict's reason names the control.
"""

from __future__ import annotations

import copy
from pathlib import Path

from tests.engine.conftest import POLICY, RecordingTarget, ScriptedSource, build, rate
from watchdog.analysis.models import Measurement


def same_for_both(version: str, k: int) -> Measurement:
    return Measurement(values={**rate(2).values, "up": 1.0})


async def test_control_twin_is_sampled_and_stored_with_the_check(
    tmp_path: Path, target: RecordingTarget
) -> None:
    policy = copy.deepcopy(POLICY)
    check = policy["environments"]["prod"]["checks"][1]
    check.pop("max")
    check.update(
        control={"errors": "stable_e", "requests": "stable_r"},
        baseline={"compare_to": "control", "max_ratio": 1.5},
        confidence=0.95,
    )
    h = build(tmp_path, policy=policy, script=same_for_both, target=target)
    dep = h.deploy("1.0.0")
    await h.run_for(60)
    v = h.state(dep)
    assert v.state == "passed"
    source = h.engine.sources["m"]
    assert isinstance(source, ScriptedSource)
    names = {name for _, name, _ in source.calls}
    assert {"errors", "errors (control)"} <= names
    stored = [s.measurement for s in h.store.samples_for(v.id) if s.check_name == "errors" and not s.warmup]
    assert stored and all(m["values"]["control_requests"] == 1000.0 for m in stored)
    assert "vs control" in v.reason
