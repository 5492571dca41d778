"""Pairs the judged samples of a window with disjoint slices of a fixed baseline, so each pair is independent.

Why: testing every sample against the whole baseline reuses the same noise at every step (its error never
averages out); a baseline spent one slice per sample keeps the test a product of independent pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """Judged positions [first, last] of the window, compared with baseline points [start, end)."""

    first: int
    last: int
    start: int
    end: int


def groups(*, points: int, judged: int) -> tuple[Group, ...]:
    """min(points, judged) groups in time order; a group closes at its last judged position.

    With at least as many baseline points as judged samples each sample closes its own group (no delay);
    with fewer, consecutive samples share one baseline point and are judged together when the last arrives.
    """
    n = min(points, judged)
    if n <= 0:
        return ()
    return tuple(
        Group(
            first=g * judged // n,
            last=(g + 1) * judged // n - 1,
            start=g * points // n,
            end=(g + 1) * points // n,
        )
        for g in range(n)
    )


class Pairing:
    """Looks up, for a judged position, the group it closes (if any)."""

    def __init__(self, *, points: int, judged: int) -> None:
        self.groups = groups(points=points, judged=judged)
        self._closing = {g.last: g for g in self.groups}
        self._of: dict[int, Group] = {}
        for g in self.groups:
            for i in range(g.first, g.last + 1):
                self._of[i] = g

    def closes(self, position: int) -> Group | None:
        return self._closing.get(position)

    def group_of(self, position: int) -> Group | None:
        return self._of.get(position)


def slice_sum(values: Sequence[float], g: Group) -> float:
    return float(sum(values[g.start : g.end]))
