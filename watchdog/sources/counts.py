"""Empty errors means zero: an error_rate check whose errors query has no series while requests flow.

An errors counter often does not exist until the first error; every source kind reads that as 0, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping

# (errors role, requests role): the deploy's own pair, and the control pair of a canary comparison.
PAIRS = (("errors", "requests"), ("control_errors", "control_requests"))
ZERO_NOTE = "no error series while requests were counted: 0 errors"


def zero_missing_errors(
    values: Mapping[str, float | None],
) -> tuple[dict[str, float | None], list[str]]:
    """`values` with each missing errors count beside a present request count read as 0.0, and the notes.

    A missing request count stays missing: without traffic there is no error rate to speak of.
    """
    out = dict(values)
    notes: list[str] = []
    for errors, requests in PAIRS:
        if errors in out and out[errors] is None and out.get(requests) is not None:
            out[errors] = 0.0
            notes.append(ZERO_NOTE if errors == "errors" else f"{errors}: {ZERO_NOTE}")
    return out, notes


def zero_missing_error_points(
    points: Mapping[str, Mapping[float, float | None]],
) -> dict[str, dict[float, float | None]]:
    """Per-role history points with a 0 errors point wherever requests have a point and errors none."""
    out = {role: dict(p) for role, p in points.items()}
    for errors, requests in PAIRS:
        if errors in out and requests in out:
            for stamp, count in out[requests].items():
                if count is not None:
                    out[errors].setdefault(stamp, 0.0)
    return out


def zero_missing_error_grid(values: dict[str, list[float | None]]) -> None:
    """The same rule over a history grid (backtests): per grid time, in place."""
    for errors, requests in PAIRS:
        if requests in values and errors in values:
            values[errors] = [
                0.0 if e is None and r is not None else e
                for e, r in zip(values[errors], values[requests], strict=True)
            ]
