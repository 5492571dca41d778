"""Streaks and the verdict: feeds each sample's measurements through the rules and decides the deploy.

The one object the live engine and `simulate` share; replaying the same samples gives the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from watchdog.analysis.judge import AnyCheck, BaselineStats, judge, observed_value, prepare
from watchdog.analysis.models import Baseline, Decision, Judgement, Measurement, Outcome, Verdict
from watchdog.analysis.timing import Timing

NOT_SAMPLED = "not sampled"


@dataclass
class _CheckState:
    check: AnyCheck
    stats: BaselineStats | None
    streak: int = 0
    judged: int = 0
    conclusive: int = 0
    failing: int = 0
    history: list[float] = field(default_factory=list)  # judged conclusive values, for Mann-Whitney
    streak_reasons: list[str] = field(default_factory=list)


class Evaluator:
    """One verification window: `observe` each sample k = 1..samples_total, get a Decision when it is made."""

    def __init__(
        self, *, checks: Sequence[AnyCheck], timing: Timing, baselines: Mapping[str, Baseline | None]
    ) -> None:
        names = [c.name for c in checks]
        if len(set(names)) != len(names):
            raise ValueError(f"check names must be unique, got {names}")
        self.timing = timing
        # Baseline aggregates are computed once here: observe() runs thousands of times per batch.
        self._states = [_CheckState(check=c, stats=prepare(c, baselines.get(c.name))) for c in checks]
        self._decision: Decision | None = None
        self._last_k = 0

    @property
    def samples_total(self) -> int:
        return self.timing.samples_total

    @property
    def decision(self) -> Decision | None:
        """The decision once made (a failure, or the end of the window); final."""
        return self._decision

    def observe(
        self, *, k: int, measurements: Mapping[str, Measurement]
    ) -> tuple[list[Judgement], Decision | None]:
        """Judges sample k of every check; returns its judgements and the Decision if this sample made it."""
        if k <= self._last_k:
            raise ValueError(f"samples must be observed in order: k={k} after k={self._last_k}")
        self._last_k = k
        t = self.timing.t(k)
        if self.timing.is_warmup(k):
            return [self._warmup(s, k=k, t=t, m=measurements.get(s.check.name)) for s in self._states], None
        judgements = [self._judge(s, k=k, t=t, m=measurements.get(s.check.name)) for s in self._states]
        if self._decision is not None:
            return judgements, None  # already decided: later samples are recorded, never re-decide
        limit = self.timing.failure_limit
        failed = [s for s in self._states if s.streak >= limit]
        if failed:
            self._decision = Decision(
                verdict=Verdict.FAILED,
                decided_after_s=t,
                failed_checks=tuple(s.check.name for s in failed),
                reasons=tuple(
                    f"{s.check.name}: {limit} failing sample{'s' if limit > 1 else ''} in a row; "
                    f"last: {s.streak_reasons[-1]}"
                    for s in failed
                ),
            )
            return judgements, self._decision
        if k >= self.samples_total:
            return judgements, self._end(t)
        return judgements, None

    def finish(self) -> Decision:
        """Decides at the end of the window on what was seen (samples lost to a gap are simply absent)."""
        if self._decision is None:
            self._end(self.timing.t(self.samples_total))
        assert self._decision is not None
        return self._decision

    def _warmup(self, s: _CheckState, *, k: int, t: float, m: Measurement | None) -> Judgement:
        observed = None if m is None else observed_value(s.check, m)
        return Judgement(
            check=s.check.name,
            k=k,
            t=t,
            outcome=Outcome.INCONCLUSIVE,
            reason=f"warm-up (t {t:g}s <= {self.timing.warmup:g}s): kept, not judged",
            observed=observed,
            warmup=True,
        )

    def _judge(self, s: _CheckState, *, k: int, t: float, m: Measurement | None) -> Judgement:
        if m is None:
            outcome, reason, observed = Outcome.INCONCLUSIVE, NOT_SAMPLED, None
        else:
            reading = judge(s.check, m, stats=s.stats, history=s.history)
            outcome, reason, observed = reading.outcome, reading.reason, reading.observed
        s.judged += 1
        if outcome is not Outcome.INCONCLUSIVE:
            s.conclusive += 1
            if observed is not None:
                s.history.append(observed)
        if outcome is Outcome.FAIL:
            s.failing += 1
            s.streak += 1
            s.streak_reasons.append(reason)
        elif outcome is Outcome.PASS:
            # a pass resets the streak; an inconclusive sample leaves it as it is
            s.streak = 0
            s.streak_reasons.clear()
        return Judgement(check=s.check.name, k=k, t=t, outcome=outcome, reason=reason, observed=observed)

    def _end(self, t: float) -> Decision:
        need = self.timing.min_conclusive
        short: list[str] = []
        reasons: list[str] = []
        # A due sample never taken (a gap) is missing evidence: it counts as not conclusive.
        due = self.timing.judged_due(self.samples_total)
        for s in self._states:
            share = s.conclusive / due if due else 0.0
            summary = f"{s.check.name}: {s.conclusive}/{due} judged samples conclusive"
            if due > s.judged:
                summary += f" ({due - s.judged} due but never taken)"
            if due == 0 or share < need:
                short.append(s.check.name)
                reasons.append(f"{summary} ({share:.0%} < min_conclusive {need:.0%})")
            else:
                streak = self.timing.failure_limit
                reasons.append(f"{summary}, {s.failing} failing, no failing streak of {streak}")
        verdict = Verdict.INCONCLUSIVE if short else Verdict.PASSED
        if short:
            reasons = [r for r in reasons if r.split(":", 1)[0] in short]
        self._decision = Decision(verdict=verdict, decided_after_s=t, reasons=tuple(reasons))
        return self._decision
