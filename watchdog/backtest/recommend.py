"""`watchdog recommend`: the tightest limits whose backtested false-rollback rate stays within a target.

Each limit is tightened alone, then all together, loosening one notch at a time until the target holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import yaml

from watchdog.analysis import Verdict
from watchdog.backtest.build import Prepared
from watchdog.backtest.run import Replayed, replay
from watchdog.backtest.summary import good_rows
from watchdog.errors import ConfigError
from watchdog.policy.checks import ErrorRateCheck
from watchdog.policy.service import EnvironmentPolicy
from watchdog.sources.base import AnyCheck

Setter = Callable[[EnvironmentPolicy, float], EnvironmentPolicy]


@dataclass(frozen=True)
class Knob:
    """One limit: where it sits, its candidates (most sensitive first) and its current value."""

    path: str  # "verification.failure_limit", "checks.errors.max" ...
    candidates: tuple[float, ...]
    current: float
    set: Setter


@dataclass(frozen=True)
class Figures:
    good: int
    false_rollbacks: int
    bad: int
    caught: int
    median_decided_s: float | None

    @property
    def false_rollback_rate(self) -> float:
        return 0.0 if self.good == 0 else self.false_rollbacks / self.good

    def to_json(self) -> dict[str, object]:
        return {
            "good": self.good,
            "false_rollbacks": self.false_rollbacks,
            "false_rollback_rate": round(self.false_rollback_rate, 4),
            "bad": self.bad,
            "caught": self.caught,
            "median_time_to_decide_s": self.median_decided_s,
        }


@dataclass(frozen=True)
class Proposal:
    policy: EnvironmentPolicy
    changes: dict[str, tuple[float, float]]  # path -> (current, proposed)
    current: Figures
    proposed: Figures
    target: float
    deploys: int
    met: bool


def parse_rate(text: str) -> float:
    """`1%` or `0.01` as 0.01; ConfigError otherwise."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"--target-false-rollbacks: {text!r} is not a rate such as 1% or 0.01") from None
    if not 0 <= value < 1:
        raise ConfigError(f"--target-false-rollbacks: {text!r} must be at least 0% and below 100%")
    return value


def figures(rows: Sequence[Replayed]) -> Figures:
    good = good_rows(rows)
    labelled = any(r.deploy.label is not None for r in rows)
    bad = [
        r
        for r in rows
        if r.verdict is not None and (r.deploy.label == "bad" if labelled else r.deploy.rolled_back)
    ]
    caught = [r for r in bad if r.verdict is Verdict.FAILED]
    times = sorted(r.decided_after_s for r in caught if r.decided_after_s is not None)
    return Figures(
        good=len(good),
        false_rollbacks=sum(1 for r in good if r.verdict is Verdict.FAILED),
        bad=len(bad),
        caught=len(caught),
        median_decided_s=_median(times),
    )


def recommend(prepared: Sequence[Prepared], policy: EnvironmentPolicy, *, target: float) -> Proposal:
    knobs = knobs_of(policy)
    seen: dict[tuple[float, ...], Figures] = {}

    def score(values: tuple[float, ...]) -> Figures:
        if values not in seen:
            seen[values] = figures(replay(prepared, _apply(policy, knobs, values)))
        return seen[values]

    current = tuple(round(float(k.current), 6) for k in knobs)  # as the candidates are rounded
    # Alone: each knob at its tightest value that keeps the others' current values within the target.
    chosen = list(current)
    for i, knob in enumerate(knobs):
        for value in knob.candidates:
            trial = (*current[:i], value, *current[i + 1 :])
            if score(trial).false_rollback_rate <= target:
                chosen[i] = value
                break
    # Together: loosen one notch at a time, round robin, until the target holds (or nothing is left).
    values = tuple(chosen)
    while score(values).false_rollback_rate > target:
        moved = False
        for i, knob in enumerate(knobs):
            at = (
                knob.candidates.index(values[i]) if values[i] in knob.candidates else len(knob.candidates) - 1
            )
            if at + 1 < len(knob.candidates):
                values = (*values[:i], knob.candidates[at + 1], *values[i + 1 :])
                moved = True
                if score(values).false_rollback_rate <= target:
                    break
        if not moved:
            break
    proposed = score(values)
    return Proposal(
        policy=_apply(policy, knobs, values),
        changes={k.path: (c, v) for k, c, v in zip(knobs, current, values, strict=True) if v != c},
        current=score(current),
        proposed=proposed,
        target=target,
        deploys=sum(1 for p in prepared if p.why_not is None),
        met=proposed.false_rollback_rate <= target,
    )


def knobs_of(policy: EnvironmentPolicy) -> list[Knob]:
    v = policy.verification
    out = [
        Knob(
            "verification.failure_limit",
            _ordered([1, 2, 3, 4, 5], v.failure_limit),
            v.failure_limit,
            lambda p, x: p.model_copy(
                update={"verification": p.verification.model_copy(update={"failure_limit": int(x)})}
            ),
        )
    ]
    for check in policy.checks:
        name = check.name
        top = getattr(check, "max", None)
        if top is not None and top > 0:
            steps = [top * f for f in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)]
            out.append(Knob(f"checks.{name}.max", _ordered(steps, top), top, _check_setter(name, "max")))
        base = getattr(check, "baseline", None)
        ratio = getattr(base, "max_ratio", None)
        if ratio is not None:
            out.append(
                Knob(
                    f"checks.{name}.baseline.max_ratio",
                    _ordered([1.1, 1.2, 1.3, 1.5, 2.0, 3.0, 5.0], ratio),
                    ratio,
                    _baseline_setter(name),
                )
            )
        if isinstance(check, ErrorRateCheck):
            mr = check.min_requests
            steps = [mr * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)] if mr else [0, 50, 100, 200, 500]
            out.append(
                Knob(
                    f"checks.{name}.min_requests",
                    _ordered(steps, mr),
                    mr,
                    _check_setter(name, "min_requests"),
                )
            )
        conf = getattr(check, "confidence", None)
        if conf is not None:
            out.append(
                Knob(
                    f"checks.{name}.confidence",
                    _ordered([0.8, 0.9, 0.95, 0.99, 0.999], conf),
                    conf,
                    _check_setter(name, "confidence"),
                )
            )
    return out


def _ordered(candidates: Sequence[float], current: float) -> tuple[float, ...]:
    return tuple(sorted({round(float(c), 6) for c in [*candidates, current]}))


def _check_setter(name: str, field: str) -> Setter:
    def set_(p: EnvironmentPolicy, x: float) -> EnvironmentPolicy:
        value: Any = int(x) if field == "failure_limit" else x
        checks = [c.model_copy(update={field: value}) if c.name == name else c for c in p.checks]
        return p.model_copy(update={"checks": checks})

    return set_


def _baseline_setter(name: str) -> Setter:
    def set_(p: EnvironmentPolicy, x: float) -> EnvironmentPolicy:
        checks = [_with_ratio(c, x) if c.name == name else c for c in p.checks]
        return p.model_copy(update={"checks": checks})

    return set_


def _with_ratio(check: AnyCheck, ratio: float) -> AnyCheck:
    base = getattr(check, "baseline", None)
    if base is None:
        return check
    return check.model_copy(update={"baseline": base.model_copy(update={"max_ratio": ratio})})


def _apply(policy: EnvironmentPolicy, knobs: Sequence[Knob], values: Sequence[float]) -> EnvironmentPolicy:
    out = policy
    for knob, value in zip(knobs, values, strict=True):
        out = knob.set(out, value)
    return out


def _median(xs: Sequence[float]) -> float | None:
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def write_proposal(
    proposal: Proposal, *, service: str, environment: str, out: TextIO, as_json: bool = False
) -> None:
    snippet = {
        "service": service,
        "environments": {
            environment: {
                "verification": {"failure_limit": proposal.policy.verification.failure_limit},
                "checks": [
                    c.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                    for c in proposal.policy.checks
                ],
            }
        },
    }
    if as_json:
        body = {
            "target_false_rollbacks": proposal.target,
            "met": proposal.met,
            "deploys": proposal.deploys,
            "changes": {
                k: {"current": a, "proposed": b} for k, a, b in ((k, *v) for k, v in proposal.changes.items())
            },
            "current": proposal.current.to_json(),
            "proposed": proposal.proposed.to_json(),
            "policy": snippet,
        }
        out.write(json.dumps(body) + "\n")
        return
    lines = [
        f"# watchdog recommend {service}/{environment}: {proposal.deploys} deploys replayed, "
        f"target false rollbacks <= {proposal.target:.1%}"
        + ("" if proposal.met else " (NOT met: even the loosest candidates exceed it)"),
        "#   current:  " + _figures_line(proposal.current),
        "#   proposed: " + _figures_line(proposal.proposed),
    ]
    lines += [f"#   {path}: {_num(a)} -> {_num(b)}" for path, (a, b) in proposal.changes.items()] or [
        "#   no limit can be tightened within the target"
    ]
    if proposal.proposed.good:
        # Why: few good deploys cannot show a small rate; say how far the evidence goes (rule of three).
        n = proposal.proposed.good
        lines.append(
            f"#   {n} good deploys: 0 false rollbacks among them bounds the true rate below "
            f"{min(1.0, 3 / n):.1%} (95%); replay more history before trusting a tighter target"
        )
    out.write("\n".join(lines) + "\n" + yaml.safe_dump(snippet, sort_keys=False))


def _figures_line(f: Figures) -> str:
    median = "-" if f.median_decided_s is None else f"{f.median_decided_s:g}s"
    return (
        f"false rollbacks {f.false_rollbacks}/{f.good} ({f.false_rollback_rate:.1%}), "
        f"regressions caught {f.caught}/{f.bad}, median time to decide {median}"
    )


def _num(x: float) -> str:
    return f"{x:g}"
