"""Payloads that say "this deploy is a rollback" set is_rollback: Argo CD's sync source, an explicit flag.

Argo CD fills operation.sync.source only for a rollback; an ordinary sync renders it as null.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.intake.payloads import argocd_deployed
from watchdog.intake import argocd

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SOURCE = {"repoURL": "https://github.com/acme/deploy.git", "path": "checkout", "targetRevision": "main"}


def _argocd(**fields: Any) -> bool:
    body = json.dumps(argocd_deployed(**fields)).encode()
    intake = argocd.parse(headers={"X-Watchdog-Token": "t"}, body=body, secret="t", now=NOW)
    assert intake.event is not None
    return intake.event.is_rollback


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, False),
        ({"syncSource": None, "syncSources": None}, False),  # an ordinary sync
        ({"syncSource": SOURCE}, True),  # `argocd app rollback` / POST .../rollback
        ({"syncSources": [SOURCE]}, True),  # the same for a multi-source application
        ({"is_rollback": "true"}, True),  # a template value renders as a string
        ({"is_rollback": True}, True),
        ({"is_rollback": "false"}, False),
    ],
)
def test_argocd_rollback_marker(fields: dict[str, Any], expected: bool) -> None:
    assert _argocd(**fields) is expected
