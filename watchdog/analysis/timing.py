"""The clock-free shape of one verification window: duration, interval, warm-up and the streak rules.

Built from a policy's Verification or RollbackVerification; the Evaluator counts samples with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from watchdog.policy.service import RollbackVerification, Verification

# Sample times are k x interval in float seconds; this tolerance keeps `t <= warmup` exact in spirit when
# a fractional interval (e.g. 0.1 s in a test) makes k x interval land a hair above the warm-up boundary.
_EPS = 1e-9


def samples_total(duration: float, interval: float) -> int:
    """How many samples a window has: k = 1 .. duration/interval (the one formula; 600/30 is 20, not 19)."""
    return max(1, int(duration / interval + _EPS))


def sample_offset(verification_id: str, interval: float, *, share: float) -> float:
    """Seconds after sample k's instant (k x interval) at which the daemon takes it: a share of the interval.

    Stable per verification (a hash of its id), so a fleet's samples spread over the interval instead of
    one burst per tick. The sample still stands for k x interval: the offset moves when, not what.
    """
    digest = hashlib.blake2b(verification_id.encode(), digest_size=8).digest()
    return share * interval * (int.from_bytes(digest, "big") / 2**64)


@dataclass(frozen=True)
class Timing:
    duration: float
    interval: float
    warmup: float
    failure_limit: int
    min_conclusive: float
    confidence: float | None = None  # deploy-level guarantee, split across the statistical checks
    pass_early: bool = False

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError(f"interval must be positive, got {self.interval}")
        if self.failure_limit < 1:
            raise ValueError(f"failure_limit must be at least 1, got {self.failure_limit}")

    @classmethod
    def of(cls, verification: Verification | RollbackVerification) -> Timing:
        return cls(
            duration=float(verification.duration),
            interval=float(verification.interval),
            warmup=float(verification.warmup),
            failure_limit=int(verification.failure_limit),
            min_conclusive=float(verification.min_conclusive),
            confidence=getattr(verification, "confidence", None),
            pass_early=bool(getattr(verification, "pass_early", False)),
        )

    @property
    def samples_total(self) -> int:
        return samples_total(self.duration, self.interval)

    def t(self, k: int) -> float:
        """Seconds after deploy_at of sample k."""
        return k * self.interval

    def is_warmup(self, k: int) -> bool:
        return k * self.interval <= self.warmup + _EPS

    def judged_due(self, through: int) -> int:
        """Judged (non-warm-up) samples due at k = 1 .. through: what min_conclusive is a share of."""
        return sum(1 for k in range(1, through + 1) if not self.is_warmup(k))
