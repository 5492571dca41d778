"""Fixtures of the policy tests: a copy of the shipped config directory that a test may break.

The shipped example lives in config/ at the repository root and must always pass `watchdog check`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config"
BAD = Path(__file__).resolve().parent / "bad"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped config directory."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target
