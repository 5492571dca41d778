"""`watchdog check` as users run it: a process, exit codes, and `path:line:col: message` lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KNOWN_SECRET
from tests.policy.conftest import BAD, REPO
from watchdog.cli import main

LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # Settings must not be needed: no WATCHDOG_* variables, run from the repository root.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    return subprocess.run(
        [sys.executable, "-m", "watchdog", *args],
        cwd=REPO,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_shipped_config_as_a_process() -> None:
    result = _run("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.fullmatch(r"config OK: 3 services, 5 environments, \d+ checks\n", result.stdout)


def test_check_bad_config_as_a_process(config_dir: Path) -> None:
    demo = config_dir / "services" / "demo.yaml"
    demo.write_text(demo.read_text().replace("target: demo-app", "target: demo-ap"))
    (config_dir / "services" / "oops.yaml").write_text("service: oops\nenvironments: [1\n")
    result = _run("check", str(config_dir))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    first, second = (m for m in parsed if m)
    assert (first["path"], first["line"]) == (str(demo), "14")
    assert "unknown target 'demo-ap'; did you mean 'demo-app'?" in first["message"]
    assert Path(second["path"]).name == "oops.yaml"
    assert second["message"].startswith("YAML syntax error")
    assert "2 problems" in result.stderr


def test_check_in_process_defaults_to_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("config OK: 3 services, 5 environments")


def test_secret_value_never_reaches_the_output(config_dir: Path) -> None:
    """The message names the key that holds a secret, never its value, even when the value is known."""
    (config_dir / "services" / "literal-token.yaml").write_text((BAD / "literal-token.yaml").read_text())
    assert KNOWN_SECRET in (config_dir / "services" / "literal-token.yaml").read_text()
    # The same value, pasted where a number belongs: the message would quote it, the redactor may not let it.
    demo = config_dir / "services" / "demo.yaml"
    demo.write_text(demo.read_text().replace("failure_limit: 2", f"failure_limit: {KNOWN_SECRET}"))
    result = _run("check", str(config_dir), env={"DD_API_KEY": KNOWN_SECRET})
    assert result.returncode == 1
    assert "'token' holds a literal secret" in result.stdout
    assert "use token_env: NAME or token_file: PATH" in result.stdout
    assert "failure_limit should be a whole number" in result.stdout
    assert KNOWN_SECRET not in result.stdout
    assert KNOWN_SECRET not in result.stderr
