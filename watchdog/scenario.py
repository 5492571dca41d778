"""Scenario files for `watchdog simulate`: recorded values per check and role, a policy, an expected verdict.

Owns the model, the step-held lookups simulate reads each sample and baseline from, and a fast loader.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from watchdog.analysis.models import Baseline, Measurement, Verdict
from watchdog.errors import ConfigError, Problem
from watchdog.policy.checks import CONTROL_ROLES, ROLES, compare_to
from watchdog.policy.service import EnvironmentPolicy

# A role's points on one line, `role: [[t, v], ...]` with numbers and null only: valid JSON as well as YAML.
_POINTS_LINE = re.compile(
    r"^(?P<head>\s*(?:-\s+)?[\w.-]+:\s*)(?P<body>\[\[[-+0-9.eE,\s\[\]nul]*\]\])\s*$", re.M
)
_KEYS = {"name", "description", "deploy_at", "policy", "data", "expect"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Fail = Callable[[str], ConfigError]  # builds the error naming the file


@dataclass(frozen=True)
class Series:
    """One role's recorded points; a value holds from its time until the next point (None = no data)."""

    times: tuple[float, ...]
    values: tuple[float | None, ...]

    def at(self, t: float) -> float | None:
        i = bisect_right(self.times, t) - 1
        return None if i < 0 else self.values[i]

    def times_in(self, start: float, end: float) -> tuple[float, ...]:
        """Point times in [start, end)."""
        return self.times[bisect_left(self.times, start) : bisect_left(self.times, end)]


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    deploy_at: datetime
    policy: EnvironmentPolicy
    data: Mapping[str, Mapping[str, Series]]  # check -> role -> series
    expect: Verdict | None = None
    description: str = ""

    def measurement(self, check: str, t: float) -> Measurement:
        """What a source would have answered for `check` at t seconds after deploy_at."""
        roles = self.data.get(check)
        if roles is None:
            return Measurement(error=f"the scenario has no data for check {check!r}")
        return Measurement(values={role: series.at(t) for role, series in roles.items()})

    def baseline(self, check: str, *, start: float | None = None, end: float = 0.0) -> Baseline | None:
        """Points in [start, end) (default: baseline_window before deploy_at), roles aligned by time.

        Each point time of any role becomes one baseline entry holding every role's step value there;
        entries where a role has no data are dropped. None when nothing is left.
        """
        roles = {r: v for r, v in (self.data.get(check) or {}).items() if not r.startswith("control_")}
        if not roles:
            return None
        if start is None:
            start = -self.policy.verification.baseline_window
        times = sorted({t for series in roles.values() for t in series.times_in(start, end)})
        columns: dict[str, list[float]] = {role: [] for role in roles}
        for t in times:
            row = {role: series.at(t) for role, series in roles.items()}
            if any(v is None for v in row.values()):
                continue
            for role, v in row.items():
                assert v is not None
                columns[role].append(v)
        if not times or not next(iter(columns.values())):
            return None
        return Baseline(values=columns, origin="scenario data")

    def comparison(self, check: str) -> Baseline | None:
        """The baseline a check is judged against: `before`, or for compare_to: last_week the same span seven
        days earlier (falling back to `before`, and saying so, when that history is missing)."""
        by_name = {c.name: c for c in self.policy.checks}
        before = self.baseline(check)
        c = by_name.get(check)
        if c is None or compare_to(c) != "last_week":
            return before
        start = -WEEK
        week = self.baseline(check, start=start, end=start + self.policy.verification.baseline_window)
        if week is not None:
            return Baseline(values=week.values, origin="last week (scenario data)")
        if before is None:
            return None
        return Baseline(values=before.values, origin="before: last week's history missing")


WEEK = 7 * 24 * 3600.0


def load_scenario(path: str | Path) -> Scenario:
    """Reads and validates one scenario file; raises ConfigError naming the file (and line when known)."""
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([Problem(p, 0, 0, f"cannot read scenario: {e.strerror or e}")]) from e
    raw: Any
    if p.endswith(".json"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError([Problem(p, e.lineno, e.colno, f"invalid JSON: {e.msg}")]) from e
    else:
        text, lifted = _lift_point_lists(text)
        try:
            raw = _restore(yaml.load(text, Loader=yaml.CSafeLoader), lifted)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
            raise ConfigError([Problem(p, line, col, f"invalid YAML: {e.problem}")]) from e
        except yaml.YAMLError as e:
            raise ConfigError([Problem(p, 0, 0, f"invalid YAML: {e}")]) from e
    return parse_scenario(raw, path=p)


def _lift_point_lists(text: str) -> tuple[str, dict[str, Any]]:
    """Reads one-line point lists with json and leaves a placeholder for YAML, on the same line.

    Why: PyYAML's C loader still builds every scalar in Python, ~10 ms for a scenario of a few hundred
    points; json parses the same lists in C about 20 times faster. Anything json refuses stays YAML.
    """
    lifted: dict[str, Any] = {}

    def swap(m: re.Match[str]) -> str:
        try:
            value = json.loads(m.group("body"))
        except ValueError:
            return m.group(0)
        key = f"__points_{len(lifted)}__"
        lifted[key] = value
        return m.group("head") + key

    return _POINTS_LINE.sub(swap, text), lifted


def _restore(node: Any, lifted: dict[str, Any]) -> Any:
    if not lifted:
        return node
    if isinstance(node, dict):
        return {k: _restore(v, lifted) for k, v in node.items()}
    if isinstance(node, list):
        return [_restore(v, lifted) for v in node]
    if isinstance(node, str) and node in lifted:
        return lifted[node]
    return node


def parse_scenario(raw: object, *, path: str) -> Scenario:
    """Validates an already-parsed scenario document."""

    def fail(message: str) -> ConfigError:
        return ConfigError([Problem(path, 0, 0, message)])

    if not isinstance(raw, dict):
        raise fail("a scenario is a mapping with name, deploy_at, policy, data and expect")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(_KEYS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise fail("`name` is required and must be a string")
    policy = _policy(raw.get("policy"), fail)
    data = _data(raw.get("data"), policy, fail)
    expect = raw.get("expect")
    if expect is not None and expect not in {v.value for v in Verdict}:
        raise fail(f"expect must be one of failed, passed, inconclusive; got {expect!r}")
    return Scenario(
        name=name,
        path=path,
        deploy_at=_deploy_at(raw.get("deploy_at"), fail),
        policy=policy,
        data=data,
        expect=None if expect is None else Verdict(expect),
        description=str(raw.get("description") or ""),
    )


def _policy(raw: object, fail: _Fail) -> EnvironmentPolicy:
    if not isinstance(raw, dict):
        raise fail("`policy` is required: one environment's policy, as written under services/<name>.yaml")
    doc = dict(raw)
    checks = doc.get("checks")
    if isinstance(checks, list):
        # A scenario's checks read its `data`, never a source; an http check needs no real URL either.
        doc["checks"] = [_with_placeholder_url(c) if isinstance(c, dict) else c for c in checks]
    try:
        return EnvironmentPolicy.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in ("policy", *err["loc"]))
        more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise fail(f"{where}: {err['msg']}{more}") from e


def _with_placeholder_url(check: dict[str, Any]) -> dict[str, Any]:
    if check.get("type") != "http" or "url" in check:
        return check
    return {**check, "url": f"scenario://{check.get('name', 'http')}"}


def _data(raw: object, policy: EnvironmentPolicy, fail: _Fail) -> dict[str, dict[str, Series]]:
    if not isinstance(raw, dict):
        raise fail("`data` is required: per check, per role, a list of [seconds, value|null]")
    types = {c.name: c.type for c in policy.checks}
    compares = {c.name: compare_to(c) for c in policy.checks}
    out: dict[str, dict[str, Series]] = {}
    for check, roles in raw.items():
        if check not in types:
            raise fail(f"data for unknown check {check!r}; the policy's checks: {', '.join(types) or 'none'}")
        want = ROLES[types[check]]
        optional = CONTROL_ROLES.get(types[check], ()) if compares[check] == "control" else ()
        if not isinstance(roles, dict):
            raise fail(f"data.{check}: expected a mapping of role -> points, roles: {', '.join(want)}")
        missing = [r for r in want if r not in roles]
        extra = [str(r) for r in roles if r not in want and r not in optional]
        if missing or extra:
            raise fail(
                f"data.{check}: a {types[check]} check needs role(s) {', '.join(want)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else "")
            )
        out[check] = {
            role: _series(roles[role], f"data.{check}.{role}", fail)
            for role in (*want, *optional)
            if role in roles
        }
    absent = [name for name in types if name not in out]
    if absent:
        raise fail(f"no data for check(s) {', '.join(absent)}; write [[0, null]] for a check with no data")
    return out


def _series(raw: object, where: str, fail: _Fail) -> Series:
    if not isinstance(raw, list):
        raise fail(f"{where}: expected a list of [seconds, value|null]")
    points: list[tuple[float, float | None]] = []
    for i, point in enumerate(raw):
        if not (isinstance(point, list) and len(point) == 2 and _number(point[0])):
            raise fail(f"{where}[{i}]: expected [seconds, value|null], got {point!r}")
        t, v = point
        if v is not None and not _number(v):
            raise fail(f"{where}[{i}]: the value must be a number or null, got {v!r}")
        points.append((float(t), None if v is None else float(v)))
    points.sort(key=lambda tv: tv[0])
    return Series(times=tuple(t for t, _ in points), values=tuple(v for _, v in points))


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _deploy_at(raw: object, fail: _Fail) -> datetime:
    if raw is None:
        return _EPOCH
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw)
        except ValueError as e:
            raise fail(f"deploy_at: {raw!r} is not an ISO 8601 time such as 2026-11-01T12:00:00Z") from e
    if not isinstance(raw, datetime):
        raise fail(f"deploy_at: expected an ISO 8601 time, got {raw!r}")
    return raw.replace(tzinfo=UTC) if raw.tzinfo is None else raw.astimezone(UTC)
