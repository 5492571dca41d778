"""One step of one claimed verification: start it (baseline), or sample the due index, judge, write, decide.

A verdict is written with its obligations (consequences.py) in one transaction and returned to the caller.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from watchdog import faults
from watchdog.analysis.actions import action_for
from watchdog.analysis.evaluator import Evaluator
from watchdog.analysis.models import Decision, Judgement, Measurement
from watchdog.analysis.timing import Timing, sample_offset
from watchdog.clock import Clock
from watchdog.engine import baselines, consequences
from watchdog.engine.control import control_twin
from watchdog.engine.prepared import Prepared, baselines_of, identity, policy_of
from watchdog.engine.progress import log_progress
from watchdog.engine.sampling import gaps, sample_all
from watchdog.engine.step_writer import StepWriter
from watchdog.events import State
from watchdog.policy.service import EnvironmentPolicy
from watchdog.sources.base import SampleContext, Source
from watchdog.sources.registry import source_for
from watchdog.store import Store
from watchdog.store.actions import ActionSpec
from watchdog.store.records import DeploymentRow, SampleRow, StableRow, VerificationRow
from watchdog.telemetry import Metrics

log = logging.getLogger(__name__)

StartReads = dict[str, tuple[DeploymentRow, StableRow | None]]
VERDICT_STATE = {"passed": State.PASSED, "failed": State.FAILED, "inconclusive": State.INCONCLUSIVE}


async def _nothing() -> None:
    return None


@dataclass(kw_only=True, eq=False)
class Verifier:
    store: Store
    sources: Mapping[str, Source]
    clock: Clock
    metrics: Metrics
    owner: str
    jitter: float = 0.0  # share of an interval each verification's samples are offset by
    _cache: dict[str, Prepared] = dataclasses.field(default_factory=dict, init=False)
    # Starts claimed together read together (prefetch): verification id -> its claim's one batch read.
    _start_reads_of: dict[str, asyncio.Future[StartReads]] = dataclasses.field(
        default_factory=dict, init=False
    )
    # Steps share a transaction with the steps that finish beside them (one fsync per batch).
    steps: StepWriter = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.steps = StepWriter(self.store)

    def forget(self, verification_id: str) -> None:
        """This replica is done with the verification (a verdict, a cancel, a rollback, a lost lease).

        Its cached evaluator goes, and every source drops what it keeps for it (a scrape's last reading).
        All sources are told, not only its checks' ones: ids are unique, and a verification this replica
        started but never cached has primed sources too.
        """
        self._cache.pop(verification_id, None)
        self._start_reads_of.pop(verification_id, None)
        for source in list(self.sources.values()):
            source.forget(verification_id)

    def prefetch(self, claimed: Sequence[VerificationRow]) -> None:
        """Starts the reads of the claimed verifications that are pending, in one thread hop and one read
        transaction; each start takes its part (a fleet-wide deploy starts thousands at once)."""
        pending = [v for v in claimed if v.state == State.PENDING]
        if len(pending) < 2:
            return  # one start reads alone, as before
        reads = asyncio.ensure_future(
            asyncio.to_thread(self.store.start_reads, [(v.deployment_id, v.artifact) for v in pending])
        )
        # Retrieved even when no start is left to take it (a cancelled step), so it is never "unawaited".
        reads.add_done_callback(lambda f: f.cancelled() or f.exception())
        for v in pending:
            self._start_reads_of[v.id] = reads

    async def step(self, v: VerificationRow) -> Decision | None:
        """Starts or samples `v`; returns the verdict when this step wrote one (with its pending actions)."""
        try:
            if v.state == State.PENDING:
                started = await self._start(v)
                # A verification that starts late (a rollback check, a delayed event) samples at once.
                if (
                    started is not None
                    and started.next_sample_at is not None
                    and started.next_sample_at <= self.clock.now()
                ):
                    return await self._sample(started)
                return None
            return await self._sample(v)
        except BaseException:
            # The cached evaluator may be ahead of the store now; the next step rebuilds (and re-primes) it.
            self._cache.pop(v.id, None)
            raise

    # ---- start: capture the baseline ----

    async def _start(self, v: VerificationRow) -> VerificationRow | None:
        """The row as this start wrote it (no re-read), or None when the write was fenced out."""
        # The deployment and the previous stable artifact: the claim's batch read, or one thread hop.
        dep, stable = await self._start_reads(v)
        policy = policy_of(v)
        now = self.clock.now()
        moved: datetime | None = None
        if v.kind == "rollback" and (now - v.starts_at).total_seconds() > v.interval_s:
            # Nobody watched the restored version yet (the daemon was down since the target call): its
            # check watches what runs from now on, rather than judging a window nobody sampled.
            moved = now
            v = dataclasses.replace(v, starts_at=now)
        ctx = baselines.stable_context(self._context(v, dep), stable)
        timing = Timing.of(policy.verification)
        restored = None
        if v.kind == "rollback":  # compared with the stable version's own baseline, not the bad version's
            restored = await baselines.of_restored_version(
                store=self.store, deployment_id=v.deployment_id, checks=policy.checks
            )
        next_at = v.starts_at + timedelta(seconds=timing.interval + self._offset(v))
        # The priming scrape goes out beside the baseline queries, not after them. A start that samples at
        # once (it began late) is not primed: a reading milliseconds before the sample measures nothing,
        # so that sample's own scrape is the first reading instead (a scrape check's first sample is
        # inconclusive, "first scrape") and the start costs no request of its own.
        primed = asyncio.ensure_future(self._prime(policy, ctx) if next_at > now else _nothing())
        found = restored or await baselines.capture(
            store=self.store,
            sources=self.sources,
            checks=policy.checks,
            ctx=ctx,
            window=policy.verification.baseline_window,
            interval=timing.interval,
            stable=stable,
        )
        await primed
        missing = [c.name for c in policy.checks if c.type != "http" and found.get(c.name) is None]
        warm = timing.warmup >= timing.interval
        state = State.WARMING if warm else State.VERIFYING
        reason = "verification started"
        if any(c.type != "http" for c in policy.checks):
            reason += "; no baseline for " + ", ".join(missing) if missing else "; baseline captured"
        baseline = {name: (b.to_json() if b else None) for name, b in found.items()}
        ok = await self.steps.record(
            verification_id=v.id,
            owner=self.owner,
            epoch=v.lease_epoch,
            now=self.clock.now(),
            samples=[],
            next_k=1,
            next_sample_at=next_at,
            baseline=baseline,
            transition=(state.value, reason),
            actions=consequences.on_start(v, policy),
            starts_at=moved,
        )
        if ok:
            self.metrics.transitions.labels(state.value).inc()
            self._cache[v.id] = Prepared(
                epoch=v.lease_epoch,
                deployment=identity(dep),
                policy=policy,
                checks=list(policy.checks),
                evaluator=Evaluator(checks=policy.checks, timing=timing, baselines=found),
                ctx=ctx,
                last_k=0,
            )
        if not ok:
            return None
        # What the store now holds, built from what was written rather than read back.
        return dataclasses.replace(
            v,
            state=state.value,
            reason=reason,
            next_k=1,
            next_sample_at=next_at,
            baseline=baseline,
            lease_owner=self.owner,
        )

    async def _start_reads(self, v: VerificationRow) -> tuple[DeploymentRow, StableRow | None]:
        batch = self._start_reads_of.pop(v.id, None)
        if batch is not None:
            try:
                found = (await asyncio.shield(batch)).get(v.deployment_id)
            except Exception:  # the batch read failed: this start reads alone (and says why if it fails)
                found = None
            if found is not None:
                return found
        return await asyncio.to_thread(self._read_alone, v)

    def _read_alone(self, v: VerificationRow) -> tuple[DeploymentRow, StableRow | None]:
        dep = self.store.get_deployment(v.deployment_id)
        return dep, baselines.stable_of(self.store, self._context(v, dep))

    # ---- sample the due index ----

    async def _prepared(self, v: VerificationRow) -> Prepared:
        cached = self._cache.get(v.id)
        if cached is not None and cached.epoch == v.lease_epoch and cached.last_k == v.next_k - 1:
            return cached
        dep = await asyncio.to_thread(self.store.get_deployment, v.deployment_id)
        policy = policy_of(v)
        evaluator = Evaluator(
            checks=policy.checks, timing=Timing.of(policy.verification), baselines=baselines_of(v)
        )
        rows = await asyncio.to_thread(self.store.samples_for, v.id)
        by_k: dict[int, dict[str, Measurement]] = {}
        for row in rows:
            by_k.setdefault(row.k, {})[row.check_name] = Measurement.from_json(row.measurement)
        for k in sorted(by_k):
            evaluator.observe(k=k, measurements=by_k[k])  # replay: pure, so it reaches the same state
        ctx = await baselines.with_stable(self.store, self._context(v, dep))
        # Sources without history (scrape) measure from their previous read: take one now, after a restart.
        await self._prime(policy, ctx)
        prepared = Prepared(
            epoch=v.lease_epoch,
            deployment=identity(dep),
            policy=policy,
            checks=list(policy.checks),
            evaluator=evaluator,
            ctx=ctx,
            last_k=v.next_k - 1,
        )
        self._cache[v.id] = prepared
        return prepared

    async def _sample(self, v: VerificationRow) -> Decision | None:
        p = await self._prepared(v)
        now = self.clock.now()
        total = p.evaluator.samples_total
        interval = v.interval_s
        k_now = math.floor((now - v.starts_at).total_seconds() / interval + 1e-9)
        due = v.next_k
        if k_now > total:
            # The window ended while nobody held this verification: decide on what was seen, invent nothing.
            note = self._gap(first=due, last=total, interval=interval) if due <= total else None
            final = p.evaluator.finish()
            return await self._write(v, p, k=due - 1, judgements=[], decision=final, note=note)
        k = max(due, k_now)
        note = self._gap(first=due, last=k - 1, interval=interval) if k > due else None
        at = v.starts_at + timedelta(seconds=k * interval)
        self.metrics.tick_lag.observe(max(0.0, (now - at).total_seconds()))
        # How late the daemon itself is (tick queueing, a busy loop): measured as the probes go out.
        late = (self.clock.now() - at).total_seconds() - self._offset(v)
        measurements = await sample_all(
            sources=self.sources,
            checks=p.checks,
            at=at,
            interval=interval,
            ctx=p.ctx,
            late_s=late,
            metrics=self.metrics,
        )
        judgements, decision = p.evaluator.observe(k=k, measurements=measurements)
        rows = [
            SampleRow(
                verification_id=v.id,
                check_name=j.check,
                k=j.k,
                t=j.t,
                taken_at=now,
                outcome=j.outcome.value,
                reason=j.reason,
                observed=j.observed,
                warmup=j.warmup,
                measurement=measurements.get(j.check, Measurement(error="not sampled")).to_json(),
            )
            for j in judgements
        ]
        return await self._write(v, p, k=k, judgements=rows, decision=decision, raw=judgements, note=note)

    async def _write(
        self,
        v: VerificationRow,
        p: Prepared,
        *,
        k: int,
        judgements: list[SampleRow],
        decision: Decision | None,
        raw: list[Judgement] | None = None,
        note: str | None = None,
    ) -> Decision | None:
        interval = v.interval_s
        transition: tuple[str, str] | None = None
        fields: dict[str, object] = {}
        actions: list[ActionSpec] = []
        if decision is not None:
            state = VERDICT_STATE[decision.verdict.value]
            transition = (state.value, "; ".join(decision.reasons) or decision.verdict.value)
            action = "none"
            if v.kind == "deploy":
                action = action_for(
                    verdict=decision.verdict,
                    on_failure=p.policy.on_failure,
                    on_inconclusive=p.policy.on_inconclusive,
                )
            fields = {
                "action": action,
                "verdict": decision.verdict.value,
                "decided_after_s": decision.decided_after_s,
                "failed_checks": list(decision.failed_checks),
            }
            # The action is computed here once; the obligations go into the verdict's own transaction.
            actions = consequences.on_verdict(v, policy=p.policy, decision=decision, action=action)
        elif v.state == State.WARMING and k * interval > p.policy.verification.warmup:
            transition = (State.VERIFYING.value, f"warm-up over after {p.policy.verification.warmup:g}s")
        next_at: datetime | None = None
        if decision is None:
            next_at = v.starts_at + timedelta(seconds=(k + 1) * interval + self._offset(v))
        ok = await self.steps.record(
            verification_id=v.id,
            owner=self.owner,
            epoch=v.lease_epoch,
            now=self.clock.now(),
            samples=judgements,
            next_k=k + 1,
            next_sample_at=next_at,
            transition=transition,
            actions=actions,
            note=note,  # a gap this step found, in the same transaction
            **fields,
        )
        if not ok:
            log.info("verification %s moved on elsewhere (superseded, cancelled or lease lost)", v.id)
            self.forget(v.id)
            return None
        if decision is None:
            faults.point("after_sample_written")
        else:
            faults.point("after_verdict" if v.kind == "deploy" else "after_rollback_verdict")
        p.last_k = k
        for row in judgements:
            self.metrics.samples.labels(self._type_of(p, row.check_name), row.outcome).inc()
        if transition:
            self.metrics.transitions.labels(transition[0]).inc()
        if raw:
            log_progress(v=v, deployment=p.deployment, k=k, total=p.evaluator.samples_total, judgements=raw)
        if decision is not None:
            self.forget(v.id)
        return decision

    def _offset(self, v: VerificationRow) -> float:
        return sample_offset(v.id, v.interval_s, share=self.jitter) if self.jitter else 0.0

    async def _prime(self, policy: EnvironmentPolicy, ctx: SampleContext) -> None:
        twins = [t for t in (control_twin(c) for c in policy.checks) if t is not None]
        primed = [(source, c) for c in [*policy.checks, *twins] if (source := source_for(c, self.sources))]
        # The primes go out together: a start costs one round trip, not one per check.
        await asyncio.gather(*(source.prime(c, ctx) for source, c in primed))

    def _gap(self, *, first: int, last: int, interval: float) -> str:
        """The note a step writes for samples nobody took; counted, and logged once a minute in sum."""
        when = (
            f"t={first * interval:g}s" if first == last else f"t={first * interval:g}s-{last * interval:g}s"
        )
        what = f"sample {first}" if first == last else f"samples {first}-{last}"
        self.metrics.gap_samples.inc(last - first + 1)
        gaps.add(last - first + 1)
        return (
            f"gap: {what} ({when}) missed: nobody sampled in time (daemon down, lease lost or overloaded); "
            "not invented"
        )

    @staticmethod
    def _type_of(p: Prepared, check_name: str) -> str:
        return next((c.type for c in p.checks if c.name == check_name), "unknown")

    @staticmethod
    def _context(v: VerificationRow, dep: DeploymentRow) -> SampleContext:
        return SampleContext(
            deployment_id=dep.id,
            verification_id=v.id,
            service=dep.service,
            environment=dep.environment,
            version=v.version,
            artifact=v.artifact,
            deployed_at=v.starts_at,
            labels=dict(dep.labels),
            previous_version=dep.previous_version or "",
        )
