"""The package as a user installs it: a wheel in a fresh venv without the dev extra.

It must simulate, check the shipped config and serve /healthz with only its declared runtime dependencies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, cwd=cwd, check=False)
    assert result.returncode == 0, f"{argv}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv holding only the wheel and its runtime dependencies (pinned by constraints.txt)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    # Built from a copy, so the build leaves no build/ or egg-info behind in the checkout.
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "watchdog", source / "watchdog", ignore=shutil.ignore_patterns("__pycache__"))
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)])
    (wheel,) = dist.glob("deploy_watchdog-*.whl")
    venv = root / "venv"
    # (CPython's private sys._base_executable is not in typeshed.)
    _run([sys._base_executable, "-m", "venv", str(venv)])  # type: ignore[attr-defined]
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt")]
    _run([*pip, str(wheel)])
    yield venv


def _env(venv: Path, data: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHDOG_", "VIRTUAL_ENV", "PYTHON"))}
    return {**keep, "PATH": f"{venv / 'bin'}:{keep.get('PATH', '')}", "WATCHDOG_DATA_DIR": str(data)}


def test_no_dev_dependency_is_installed(installed: Path) -> None:
    names = json.loads(_run([str(installed / "bin" / "python"), "-m", "pip", "list", "--format", "json"]))
    found = {n["name"].lower() for n in names}
    assert "deploy-watchdog" in found and "pyyaml" in found
    assert not found & {"pytest", "mypy", "ruff", "playwright", "schemathesis"}, found
    _run([str(installed / "bin" / "python"), "-m", "pip", "check"])


def test_simulate_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    scenario = ROOT / "tests" / "scenarios" / "sustained-breach-fails-at-limit.yaml"
    out = _run(
        [str(installed / "bin" / "watchdog"), "simulate", "--check-expect", str(scenario)],
        env=_env(installed, tmp_path),
        cwd=tmp_path,
    )
    assert json.loads(out.splitlines()[0])["verdict"] == "failed"


def test_check_accepts_the_shipped_config(installed: Path, tmp_path: Path) -> None:
    out = _run(
        [str(installed / "bin" / "watchdog"), "check", str(ROOT / "config")],
        env=_env(installed, tmp_path),
        cwd=tmp_path,
    )
    assert out.strip() == f"{ROOT / 'config'} OK: 3 services, 5 environments, 13 checks", out


def test_serve_answers_healthz(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    watchdog = str(installed / "bin" / "watchdog")
    argv = [watchdog, "serve", "--config", str(ROOT / "config"), "--port", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(
            argv, env=_env(installed, tmp_path), cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"the daemon exited: {log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, f"/healthz never answered: {log.read_text()[-3000:]}"
                time.sleep(0.3)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode in (0, -15), log.read_text()[-3000:]
