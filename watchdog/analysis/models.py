"""Values that flow through judging: what a source measured, the baseline, and what the rules concluded.

Plain frozen dataclasses: no I/O, no clock; the engine stores them, `simulate` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Measurement:
    """One sample of one check, as a source returned it: a value per query role.

    `values[role] is None` means the source answered with no data; `error` means the query broke
    (timeout, 5xx, 429, parse error) and says why. Both make the sample inconclusive, never failing.
    For http, `values["up"]` is 1.0 or 0.0 and `note` says why a probe failed ("status 503, expected 200").
    """

    values: Mapping[str, float | None] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"values": dict(self.values), "error": self.error, "note": self.note}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Measurement:
        values = data.get("values") or {}
        assert isinstance(values, dict)
        err, note = data.get("error"), data.get("note")
        return cls(
            values={str(k): (None if v is None else float(v)) for k, v in values.items()},
            error=None if err is None else str(err),
            note=None if note is None else str(note),
        )


@dataclass(frozen=True)
class Baseline:
    """Pre-deploy values per role (for error_rate: per-interval errors and requests, aligned by index)."""

    values: Mapping[str, Sequence[float]]
    origin: str = "source history"  # or "previous stable version's samples"

    def to_json(self) -> dict[str, object]:
        return {"values": {k: list(v) for k, v in self.values.items()}, "origin": self.origin}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Baseline:
        values = data.get("values") or {}
        assert isinstance(values, dict)
        return cls(
            values={str(k): [float(x) for x in v] for k, v in values.items()},
            origin=str(data.get("origin", "source history")),
        )


@dataclass(frozen=True)
class Judgement:
    """The rules' reading of one sample of one check."""

    check: str
    k: int  # sample index: t = k x interval
    t: float  # seconds after deploy_at
    outcome: Outcome
    reason: str  # in words: "error rate 6.1% > limit 2.0%"
    observed: float | None  # the judged value (error rate, latency, metric, 1/0 for http)
    warmup: bool = False  # kept, never judged


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    decided_after_s: float
    failed_checks: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
