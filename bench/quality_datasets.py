"""Windows cut from the NAB and cloud-monitoring series for bench/quality.py, labelled by their anomalies.

A healthy window sits far from every labelled anomaly; an incident window puts an anomaly's start at the
5th sample. Each 5-minute (or hourly) point stands for one 30 s sample. Absent datasets give no cases.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from bench.datasets_to_scenarios import (
    BASE_POINTS,
    POST_POINTS,
    STEP,
    Spec,
    anomaly_starts,
    check_for,
    read_series,
)
from bench.quality_cases import Case, doc

HEALTHY_PER_FILE = 4
FILES = (
    ("nab/data/realAWSCloudwatch", "metric-high"),
    ("nab/data/realKnownCause", "metric-high"),
    ("cloud-monitoring/data/middle-tier-api-dependency-latency", "latency"),
    ("cloud-monitoring/data/ecommerce-api-incoming-rps", "metric-high"),
)


def _static(check: dict[str, Any], base: list[float]) -> dict[str, Any]:
    """A fixed threshold from the same baseline: the ratio applied to the median, as a ceiling."""
    if "min" in check:
        return {"name": check["name"], "type": check["type"], "min": check["min"]}
    ratio = float(check.get("baseline", {}).get("max_ratio", 1.3))
    return {"name": check["name"], "type": check["type"], "max": round(statistics.median(base) * ratio, 4)}


def _case(spec: Spec, values: list[float], d: int, expect: str, n: int) -> Case | None:
    if d < BASE_POINTS or d + POST_POINTS >= len(values):
        return None
    base = [v for v in values[d - BASE_POINTS : d] if math.isfinite(v)]
    if len(base) < BASE_POINTS // 2 or (spec.kind == "latency" and min(base) <= 0):
        return None
    check = check_for(spec, base)
    if "baseline" in check:
        check.setdefault("confidence", 0.95)
    pts = [
        [(i - d) * STEP, None if not math.isfinite(values[i]) else values[i]]
        for i in range(d - BASE_POINTS, d + POST_POINTS + 1)
    ]
    name = f"{spec.name}-{expect}-{n}"
    check_name = cast(str, check["name"])  # check_for names every check it makes
    document = doc(name, checks=[check], data={check_name: {"value": pts}}, expect=expect)
    level = spec.file.split("/")[2] if spec.file.startswith("nab/") else "cloud-monitoring"
    return Case(f"real windows ({expect})", level, True, document, {"checks": [_static(check, base)]})


def dataset_cases(root: Path) -> Iterator[Case]:
    if not root.is_dir():
        return
    for folder, kind in FILES:
        where = root / folder
        if not where.is_dir():
            continue
        for path in sorted(where.glob("*.csv")):
            rel = str(path.relative_to(root))
            spec = Spec(
                path.stem, rel, "latency" if "latency" in path.stem else kind, "healthy", "passed", ""
            )
            times, values, labels = read_series(path)
            spans = anomaly_starts(spec, root, times, labels) if rel.startswith("nab/") or any(labels) else []
            n = 0
            for a, b in spans:
                onset = (
                    (a + b) // 2 if rel.startswith("nab/") else a
                )  # NAB windows are centred on the anomaly
                case = _case(spec, values, onset - 5, "failed", n)
                if case is not None:
                    n += 1
                    yield case
            blocked = [(a - 2 * POST_POINTS, b + 2 * POST_POINTS) for a, b in spans]
            found = 0
            stride = max(POST_POINTS * 3, (len(values) - BASE_POINTS) // (HEALTHY_PER_FILE + 1))
            for d in range(BASE_POINTS + stride, len(values) - POST_POINTS, stride):
                if found >= HEALTHY_PER_FILE or any(lo <= d <= hi for lo, hi in blocked):
                    continue
                case = _case(spec, values, d, "passed", found)
                if case is not None:
                    found += 1
                    yield case
