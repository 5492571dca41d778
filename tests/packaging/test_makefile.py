"""The Makefile's two entry points, read through `make -n` (what it would run) and its interpreter check.

`make run` builds a runtime-only venv and passes PORT/DEMO_PORT through; `make test` builds the dev one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_run_installs_runtime_dependencies_only_and_passes_the_ports() -> None:
    plan = make("-n", "-B", "run", "PORT=18080", "DEMO_PORT=18081")
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    install = [line for line in lines if "pip install" in line]
    assert install and all(".venv-run/bin/pip" in line and "[dev]" not in line for line in install), install
    assert any(line.rstrip().endswith("-c constraints.txt -e .") for line in install), install
    serve = [line for line in lines if " serve " in line]
    assert serve == [".venv-run/bin/watchdog serve --config config --demo --port 18080 --demo-port 18081"]


def test_test_uses_the_dev_venv() -> None:
    plan = make("-n", "-B", "test")
    assert plan.returncode == 0, plan.stderr
    assert (
        ".venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'" in plan.stdout
    )
    assert ".venv-run" not in plan.stdout


def test_default_python_is_a_python3_of_at_least_3_11() -> None:
    found = make("-s", "--eval", "show-py:\n\t@echo $(PY)", "show-py")
    assert found.returncode == 0, found.stderr
    python = found.stdout.strip()
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info >= (3, 11))"], capture_output=True, text=True
    )
    assert version.stdout.strip() == "True", python


def test_a_too_old_or_missing_python_is_one_clear_line() -> None:
    missing = make("python", "PY=python-that-does-not-exist")
    assert missing.returncode != 0
    assert "is not Python >= 3.11; pass PY=" in missing.stderr
