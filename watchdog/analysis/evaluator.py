"""Streaks and the verdict: feeds each sample's measurements through the rules and decides the deploy.

The one object the live engine and `simulate` share; replaying the same samples gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from watchdog.analysis.evidence import ErrorEvidence, evidence_for
from watchdog.analysis.judge import NO_BASELINE, AnyCheck, BaselineStats, judge, observed_value, prepare
from watchdog.analysis.models import Baseline, Decision, Judgement, Measurement, Outcome, Verdict
from watchdog.analysis.sequential import Step
from watchdog.analysis.timing import Timing
from watchdog.analysis.valuetest import ValueEvidence
from watchdog.policy.checks import HttpCheck

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
    evidence: ErrorEvidence | ValueEvidence | None = None  # the running test, for checks with confidence
    alpha: float = 0.0
    last: Step | None = None  # the evidence after the latest judged sample
    crossed_reason: str | None = None


class Evaluator:
    """One verification window: `observe` each sample k = 1..samples_total, get a Decision when it is made."""

    def __init__(
        self,
        *,
        checks: Sequence[AnyCheck],
        timing: Timing,
        baselines: Mapping[str, Baseline | None],
        legacy: bool = False,
    ) -> None:
        """`legacy` restores the per-sample tests of the first release; only the quality benchmark uses it."""
        names = [c.name for c in checks]
        if len(set(names)) != len(names):
            raise ValueError(f"check names must be unique, got {names}")
        self.timing = timing
        self.legacy = legacy
        self._warmups: int | None = None
        # Baseline aggregates are computed once here: observe() runs thousands of times per batch.
        self._states = [_CheckState(check=c, stats=prepare(c, baselines.get(c.name))) for c in checks]
        if not legacy:
            self._arm(baselines)
        self._decision: Decision | None = None
        self._last_k = 0

    def _arm(self, baselines: Mapping[str, Baseline | None]) -> None:
        """One running test per check with `confidence`; verification.confidence caps their summed alpha."""
        statistical = [s for s in self._states if _confidence(s.check) is not None]
        share = None
        if self.timing.confidence is not None and statistical:
            share = (1.0 - self.timing.confidence) / len(statistical)
        judged = self.samples_total - self._warmup_samples()
        for s in statistical:
            own = _confidence(s.check)
            assert own is not None and not isinstance(s.check, HttpCheck)
            s.alpha = 1.0 - own if share is None else min(1.0 - own, share)
            s.evidence = evidence_for(
                s.check, baseline=baselines.get(s.check.name), alpha=s.alpha, judged=judged
            )

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
        failed = [s for s in self._states if s.streak >= limit or s.crossed_reason is not None]
        if failed:
            self._decision = Decision(
                verdict=Verdict.FAILED,
                decided_after_s=t,
                failed_checks=tuple(s.check.name for s in failed),
                reasons=tuple(self._failure_reason(s) for s in failed),
            )
            return judgements, self._decision
        if k >= self.samples_total:
            return judgements, self._end(t)
        if self.timing.pass_early and self._settled(k):
            reasons = tuple(
                f"{s.check.name}: any regression is below tolerance: {s.last.reason}"
                for s in self._states
                if s.last is not None
            )
            self._decision = Decision(verdict=Verdict.PASSED, decided_after_s=t, reasons=reasons)
            return judgements, self._decision
        return judgements, None

    def _failure_reason(self, s: _CheckState) -> str:
        if s.crossed_reason is not None:
            return f"{s.check.name}: the evidence crossed the level for {1 - s.alpha:.3g}: {s.crossed_reason}"
        limit = self.timing.failure_limit
        return (
            f"{s.check.name}: {limit} failing sample{'s' if limit > 1 else ''} in a row; "
            f"last: {s.streak_reasons[-1]}"
        )

    def _settled(self, k: int) -> bool:
        """pass_early: every check has a running test whose within-tolerance evidence reached its level."""
        due = k - self._warmup_samples()
        for s in self._states:
            if s.evidence is None or s.last is None or not s.last.within or s.streak > 0:
                return False
            if s.conclusive < self.timing.min_conclusive * due:
                return False
        return True

    def _warmup_samples(self) -> int:
        if self._warmups is None:
            self._warmups = sum(1 for k in range(1, self.samples_total + 1) if self.timing.is_warmup(k))
        return self._warmups

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
            if s.evidence is not None:  # a gap still closes its baseline slice, unused
                s.evidence.step(Measurement(error=NOT_SAMPLED), position=k - self._warmup_samples() - 1)
        elif s.evidence is not None or (not self.legacy and _confidence(s.check) is not None):
            outcome, reason, observed = self._sequential(s, m, k)
        else:
            reading = judge(s.check, m, stats=s.stats, history=s.history)
            outcome, reason, observed = reading.outcome, reading.reason, reading.observed
        if m is not None and m.note and s.check.type != "http":
            # What the source read into the numbers, e.g. "no error series ...: 0 errors"
            reason = f"{reason} ({m.note})"
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

    def _sequential(self, s: _CheckState, m: Measurement, k: int) -> tuple[Outcome, str, float | None]:
        """Absolute limits per sample (streak rule); the baseline comparison through the running test."""
        reading = judge(s.check, m, stats=s.stats, absolute_only=True)
        if s.evidence is None:
            # nothing to compare with (no baseline, or no baseline limits): absolute limits only, and say so
            why = "" if not _wants_baseline(s.check) else f"; {NO_BASELINE}"
            return reading.outcome, reading.reason + why, reading.observed
        step = s.evidence.step(m, position=k - self._warmup_samples() - 1)
        s.last = step
        if step.crossed and s.crossed_reason is None and self._decision is None:
            s.crossed_reason = step.reason
        if reading.outcome is Outcome.FAIL:
            return Outcome.FAIL, f"{reading.reason}; {step.reason}", reading.observed
        if step.crossed:
            return Outcome.FAIL, step.reason, reading.observed
        if reading.outcome is Outcome.INCONCLUSIVE:
            # below min_requests: inconclusive alone, but its counts joined the pooled evidence
            return Outcome.INCONCLUSIVE, f"{reading.reason}; {step.reason}", reading.observed
        return Outcome.PASS, f"{reading.reason}; {step.reason}", reading.observed

    def _conclusive(self, s: _CheckState) -> int:
        """Conclusive samples; for pooled counts, the pooled requests count in units of min_requests."""
        ev = s.evidence
        if not isinstance(ev, ErrorEvidence) or s.check.type != "error_rate":
            return s.conclusive
        need = getattr(s.check, "min_requests", 0.0)
        if need <= 0:
            return s.conclusive
        pooled = ev.pooled_requests
        return max(s.conclusive, min(s.judged, int(pooled // need)))

    def _lacks(self, s: _CheckState, t: float) -> str:
        assert s.evidence is not None
        elapsed = t - self.timing.warmup
        if isinstance(s.evidence, ErrorEvidence):
            need = getattr(s.check, "min_requests", 0.0)
            want = math.ceil(self.timing.min_conclusive * s.judged) * need
            short = max(want - s.evidence.pooled_requests, 0.0)
            return s.evidence.lacks(elapsed=elapsed, short_requests=short)
        return s.evidence.lacks(elapsed=elapsed)

    def _end(self, t: float) -> Decision:
        need = self.timing.min_conclusive
        short: list[str] = []
        reasons: list[str] = []
        # A due sample never taken (a gap) is missing evidence: it counts as not conclusive.
        due = self.timing.judged_due(self.samples_total)
        for s in self._states:
            conclusive = self._conclusive(s)
            share = conclusive / due if due else 0.0
            summary = f"{s.check.name}: {conclusive}/{due} judged samples conclusive"
            if conclusive != s.conclusive:
                summary += f" (pooled requests in units of min_requests; {s.conclusive} alone)"
            if due > s.judged:
                summary += f" ({due - s.judged} due but never taken)"
            if due == 0 or share < need:
                short.append(s.check.name)
                lacks = "" if s.evidence is None else f"; {self._lacks(s, t)}"
                reasons.append(f"{summary} ({share:.0%} < min_conclusive {need:.0%}){lacks}")
            elif s.evidence is not None and s.last is not None:
                reasons.append(f"{summary}, evidence never crossed: {s.last.reason}")
            else:
                streak = self.timing.failure_limit
                reasons.append(f"{summary}, {s.failing} failing, no failing streak of {streak}")
        verdict = Verdict.INCONCLUSIVE if short else Verdict.PASSED
        if short:
            reasons = [r for r in reasons if r.split(":", 1)[0] in short]
        self._decision = Decision(verdict=verdict, decided_after_s=t, reasons=tuple(reasons))
        return self._decision


def _wants_baseline(check: AnyCheck) -> bool:
    limits = getattr(check, "baseline", None)
    return limits is not None and (limits.max_ratio is not None or limits.max_increase is not None)


def _confidence(check: AnyCheck) -> float | None:
    return None if isinstance(check, HttpCheck) else getattr(check, "confidence", None)
