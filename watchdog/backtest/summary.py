"""The backtest's summary: what the policy would have done, and with labels how right it would have been.

A positive is a replayed `failed`; a label `bad` is a regression. Not-replayable deploys count nowhere else.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from watchdog.analysis import Verdict
from watchdog.backtest.run import Replayed


@dataclass(frozen=True)
class Summary:
    deploys: int
    replayed: int
    not_replayable: int
    failed: int
    would_roll_back: int
    newly_caught: int  # recorded not failed, replayed failed
    newly_passed: int  # recorded failed, replayed passed
    inconclusive: int
    labelled: int
    false_rollbacks: int  # labelled good, replayed failed
    missed_regressions: int  # labelled bad, replayed passed or inconclusive
    precision: float | None
    recall: float | None
    false_rollback_rate: float | None  # false rollbacks / replayed good deploys
    median_time_to_decide_s: float | None  # over caught regressions (or every failure without labels)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def summarize(rows: Sequence[Replayed]) -> Summary:
    done = [r for r in rows if r.verdict is not None]
    failed = [r for r in done if r.verdict is Verdict.FAILED]
    recorded_failed = {"failed", "rolling_back", "rolled_back", "rollback_failed"}

    def recorded(r: Replayed) -> str | None:
        return r.deploy.recorded.outcome if r.deploy.recorded else None

    labelled = [r for r in done if r.deploy.label is not None]
    bad = [r for r in labelled if r.deploy.label == "bad"]
    good = [r for r in labelled if r.deploy.label == "good"]
    true_pos = [r for r in bad if r.verdict is Verdict.FAILED]
    false_pos = [r for r in good if r.verdict is Verdict.FAILED]
    decided = [r.decided_after_s for r in (true_pos if labelled else failed) if r.decided_after_s is not None]
    return Summary(
        deploys=len(rows),
        replayed=len(done),
        not_replayable=len(rows) - len(done),
        failed=len(failed),
        would_roll_back=sum(1 for r in done if r.action == "rollback"),
        newly_caught=sum(1 for r in failed if recorded(r) is not None and recorded(r) not in recorded_failed),
        newly_passed=sum(1 for r in done if r.verdict is Verdict.PASSED and recorded(r) in recorded_failed),
        inconclusive=sum(1 for r in done if r.verdict is Verdict.INCONCLUSIVE),
        labelled=len(labelled),
        false_rollbacks=len(false_pos),
        missed_regressions=len(bad) - len(true_pos),
        precision=_ratio(len(true_pos), len(true_pos) + len(false_pos)) if labelled else None,
        recall=_ratio(len(true_pos), len(bad)) if labelled else None,
        false_rollback_rate=_ratio(len(false_pos), len(good)) if labelled else None,
        median_time_to_decide_s=statistics.median(decided) if decided else None,
    )


def good_rows(rows: Sequence[Replayed]) -> list[Replayed]:
    """The deploys a false rollback is counted on: labelled good, or (without labels) not rolled back."""
    if any(r.deploy.label is not None for r in rows):
        return [r for r in rows if r.deploy.label == "good" and r.verdict is not None]
    return [r for r in rows if not r.deploy.rolled_back and r.verdict is not None]


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else round(num / den, 4)
