"""Time series as sources fetch them, and the two readings the engine needs: one window, per-interval buckets.

Shared by the Datadog and Sentry sources; pure functions over (epoch seconds, value) points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Reduce = Literal["sum", "last"]


@dataclass(frozen=True)
class Series:
    """One returned series: points sorted by time, null values already dropped."""

    scope: str
    points: tuple[tuple[float, float], ...]


def window_value(series: Sequence[Series], *, start: float, end: float, how: Reduce) -> float | None:
    """The value over [start, end): counts are summed; gauges take the last point. None: no points.

    A point's timestamp is the start of its rollup interval, so the window is half-open. Several
    series (a grouped query) are summed for counts and the worst (largest) last value for gauges.
    """
    per_series: list[float] = []
    for s in series:
        inside = [v for t, v in s.points if start <= t < end]
        if inside:
            per_series.append(sum(inside) if how == "sum" else inside[-1])
    if not per_series:
        return None
    return sum(per_series) if how == "sum" else max(per_series)


def buckets(
    series: Sequence[Series], *, start: float, end: float, interval: float, how: Reduce
) -> list[float | None]:
    """One value per whole interval of [start, end), oldest first; None where a bucket has no points."""
    count = max(0, math.floor((end - start) / interval + 1e-9))
    return [
        window_value(series, start=start + k * interval, end=start + (k + 1) * interval, how=how)
        for k in range(count)
    ]


def error_rate_pairs(
    errors: list[float | None], requests: list[float | None]
) -> tuple[list[float], list[float]]:
    """Aligned (errors, requests) per bucket, keeping buckets with requests; no error points means 0 errors.

    Count metrics send nothing in an interval with no events, so a missing error point beside a
    present request count is a zero, not a gap.
    """
    out_e: list[float] = []
    out_r: list[float] = []
    for e, r in zip(errors, requests, strict=True):
        if r is None:
            continue
        out_e.append(0.0 if e is None else e)
        out_r.append(r)
    return out_e, out_r
