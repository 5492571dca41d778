"""Pure judging: samples + thresholds + baseline -> outcome per sample -> verdict.

No I/O, no clock, no globals: the live engine and `watchdog simulate` share it.
"""

from __future__ import annotations

from watchdog.analysis.actions import action_for
from watchdog.analysis.evaluator import Evaluator
from watchdog.analysis.judge import AnyCheck
from watchdog.analysis.models import Baseline, Decision, Judgement, Measurement, Outcome, Verdict
from watchdog.analysis.timing import Timing

__all__ = [
    "AnyCheck",
    "Baseline",
    "Decision",
    "Evaluator",
    "Judgement",
    "Measurement",
    "Outcome",
    "Timing",
    "Verdict",
    "action_for",
]
