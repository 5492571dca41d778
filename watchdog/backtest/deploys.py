"""The past deploys a backtest replays: from a JSON-lines file, or from the store with their verdicts.

One line: {"version", "deployed_at", "artifact"?, "label"?: "bad" | "good"}; errors say file:line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from watchdog.errors import ConfigError, Problem
from watchdog.store import Store
from watchdog.store.records import DeploymentRow, SampleRow, VerificationRow

Label = Literal["bad", "good"]
_KEYS = {"version", "deployed_at", "artifact", "label"}
_PAGE = 500


@dataclass(frozen=True)
class Recorded:
    """What the daemon wrote for a deploy: its verdict, and the samples kept for sources without history."""

    deployment_id: str
    state: str
    verdict: str | None
    samples: Mapping[str, Sequence[SampleRow]] = field(default_factory=dict)  # check -> samples by k
    baselines: Mapping[str, Any] = field(default_factory=dict)  # check -> stored baseline JSON

    @property
    def outcome(self) -> str:
        """The verdict, or the state when the window never reached one (superseded, cancelled ...)."""
        return self.verdict or self.state


@dataclass(frozen=True)
class PastDeploy:
    version: str
    deployed_at: datetime
    artifact: str
    label: Label | None = None
    recorded: Recorded | None = None

    @property
    def rolled_back(self) -> bool:
        return self.recorded is not None and self.recorded.state in {"rolling_back", "rolled_back"}


def read_deploys_file(path: str | Path) -> list[PastDeploy]:
    """Every line of a deploys file, oldest first; ConfigError names file:line of each bad line."""
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([Problem(p, 0, 0, f"cannot read deploys file: {e.strerror or e}")]) from e
    out: list[PastDeploy] = []
    problems: list[Problem] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(_deploy(json.loads(line)))
        except json.JSONDecodeError as e:
            problems.append(Problem(p, n, e.colno, f"invalid JSON: {e.msg}"))
        except ValueError as e:
            problems.append(Problem(p, n, 1, str(e)))
    if problems:
        raise ConfigError(problems)
    if not out:
        raise ConfigError([Problem(p, 1, 1, "no deploys: write one JSON object per line")])
    return sorted(out, key=lambda d: d.deployed_at)


def parse_deploy(raw: object) -> PastDeploy:
    """One deploys-file object (as parsed JSON); ValueError says what is wrong with it."""
    return _deploy(raw)


def _deploy(raw: object) -> PastDeploy:
    if not isinstance(raw, dict):
        raise ValueError('expected an object such as {"version": "1.2.0", "deployed_at": "..."}')
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise ValueError("version is required and must be a string")
    artifact = raw.get("artifact", version)
    if not isinstance(artifact, str) or not artifact:
        raise ValueError("artifact must be a non-empty string")
    label = raw.get("label")
    if label not in (None, "bad", "good"):
        raise ValueError(f'label must be "bad" or "good", got {label!r}')
    return PastDeploy(
        version=version, deployed_at=parse_time(raw.get("deployed_at")), artifact=artifact, label=label
    )


def parse_time(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise ValueError("deployed_at is required: an ISO 8601 time such as 2026-11-01T12:00:00Z")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"deployed_at {raw!r} is not an ISO 8601 time such as 2026-11-01T12:00:00Z"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def store_deploys(store: Store, *, service: str, environment: str, since: datetime) -> list[PastDeploy]:
    """Deploys (not rollbacks) of one service and environment since `since`, oldest first, with records."""
    out: list[PastDeploy] = []
    cursor: str | None = None
    while True:
        page, cursor = store.list_deployments(
            service=service, environment=environment, limit=_PAGE, cursor=cursor
        )
        for dep, ver in page:
            if dep.deployed_at >= since and not dep.is_rollback:
                out.append(_from_rows(store, dep, ver))
        if cursor is None or not page or page[-1][0].received_at < since:
            break
    return sorted(out, key=lambda d: d.deployed_at)


def with_records(
    store: Store, deploys: Sequence[PastDeploy], *, service: str, environment: str
) -> list[PastDeploy]:
    """A deploys file's entries, each with the store's record of the same version when it has one."""
    if not deploys:
        return []
    since = min(d.deployed_at for d in deploys)
    known = {
        (d.version, d.artifact): d
        for d in store_deploys(store, service=service, environment=environment, since=since)
    }
    out: list[PastDeploy] = []
    for d in deploys:
        match = known.get((d.version, d.artifact))
        out.append(
            d if match is None else PastDeploy(d.version, d.deployed_at, d.artifact, d.label, match.recorded)
        )
    return out


def _from_rows(store: Store, dep: DeploymentRow, ver: VerificationRow) -> PastDeploy:
    by_check: dict[str, list[SampleRow]] = {}
    for s in store.samples_for(ver.id):
        by_check.setdefault(s.check_name, []).append(s)
    baselines = ver.baseline if isinstance(ver.baseline, dict) else {}
    return PastDeploy(
        version=dep.version,
        deployed_at=dep.deployed_at,
        artifact=dep.artifact,
        recorded=Recorded(
            deployment_id=dep.id,
            state=ver.state,
            verdict=ver.verdict,
            samples={k: sorted(v, key=lambda s: s.k) for k, v in by_check.items()},
            baselines=baselines,
        ),
    )
