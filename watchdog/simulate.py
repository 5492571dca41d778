"""`watchdog simulate` without the command line: a scenario through the Evaluator on a virtual clock.

The clock is the sample index: sample k is read at k x interval after deploy_at, as the engine samples it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from watchdog.analysis import Evaluator, Judgement, Timing, Verdict, action_for
from watchdog.scenario import Scenario, load_scenario


@dataclass(frozen=True)
class SimulationResult:
    name: str
    path: str
    verdict: Verdict
    action: str
    decided_after_s: float
    failed_checks: tuple[str, ...]
    reasons: tuple[str, ...]
    expect: Verdict | None
    judgements: tuple[Judgement, ...] = ()

    @property
    def matches_expect(self) -> bool:
        return self.expect is None or self.expect is self.verdict

    def to_json(self, *, reasons: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "verdict": self.verdict.value,
            "action": self.action,
            "decided_after_s": self.decided_after_s,
            "failed_checks": list(self.failed_checks),
        }
        if reasons:
            out["reasons"] = list(self.reasons)
        return out


def simulate(scenario: Scenario, *, keep_judgements: bool = False, legacy: bool = False) -> SimulationResult:
    """Runs one scenario; `legacy` replays the first release's per-sample rules (bench/quality.py only)."""
    policy = scenario.policy
    checks = policy.checks
    evaluator = Evaluator(
        checks=checks,
        timing=Timing.of(policy.verification),
        baselines={c.name: scenario.comparison(c.name) for c in checks},
        legacy=legacy,
    )
    interval = evaluator.timing.interval
    kept: list[Judgement] = []
    decision = None
    for k in range(1, evaluator.samples_total + 1):
        t = k * interval
        measurements = {c.name: scenario.measurement(c.name, t) for c in checks}
        judgements, decision = evaluator.observe(k=k, measurements=measurements)
        if keep_judgements:
            kept.extend(judgements)
        if decision is not None:
            break
    if decision is None:
        decision = evaluator.finish()  # a window shorter than one interval has no samples at all
    return SimulationResult(
        name=scenario.name,
        path=scenario.path,
        verdict=decision.verdict,
        action=action_for(
            verdict=decision.verdict, on_failure=policy.on_failure, on_inconclusive=policy.on_inconclusive
        ),
        decided_after_s=decision.decided_after_s,
        failed_checks=decision.failed_checks,
        reasons=decision.reasons,
        expect=scenario.expect,
        judgements=tuple(kept),
    )


def scenario_paths(args: Iterable[str]) -> list[Path]:
    """Files as given; a directory stands for its *.yaml, *.yml and *.json files, sorted."""
    out: list[Path] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix in {".yaml", ".yml", ".json"}))
        else:
            out.append(p)
    return out


def simulate_file(path: str | Path) -> SimulationResult:
    return simulate(load_scenario(path))
