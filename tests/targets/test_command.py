"""The command target running real processes (small Python scripts): argv, env, exit codes, timeout.

A timed-out command's whole process group is stopped, children included.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import KNOWN_SECRET
from tests.targets.conftest import QUICK, STABLE, request
from watchdog.plumbing import Plumbing
from watchdog.policy.connections import CommandTargetConfig
from watchdog.targets.base import RollbackRequest
from watchdog.targets.command import CommandTarget
from watchdog.targets.transcript import LIMIT

PY = sys.executable


def target(argv: list[str], *, environ: dict[str, str] | None = None, **config: Any) -> CommandTarget:
    cfg = CommandTargetConfig.model_validate({"type": "command", "argv": argv, "timeout": 10, **config})
    env = {"PATH": os.environ["PATH"], **(environ or {})}
    return CommandTarget("script", cfg, plumbing=Plumbing(environ=env), backoff=QUICK, kill_grace=0.2)


def alive(pid: int) -> bool:
    """Running and not a zombie (a reparented child may wait unreaped in a container without an init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def test_each_placeholder_fills_one_argv_item(tmp_path: Path) -> None:
    # Written to a file: `${NAME}` values count as secrets, so the transcript would mask "eu-west-1".
    script = (
        "import json, os, sys; open('seen.json', 'w').write(json.dumps({'argv': sys.argv[1:], "
        "'cwd': os.getcwd(), "
        "'artifact': os.environ['WATCHDOG_ARTIFACT'], 'extra': os.environ['EXTRA']}))"
    )
    hostile = request(version="1.4.1; rm -rf / #", artifact=STABLE)
    t = target([PY, "-c", script, "{{ service }}", "{{ version }}", "--to={{ artifact }}"],
               cwd=str(tmp_path), env={"EXTRA": "{{ environment }}-${REGION}"},
               environ={"REGION": "eu-west-1"})  # fmt: skip
    result = await t.rollback(hostile)
    assert result.ok, result.detail
    printed = json.loads((tmp_path / "seen.json").read_text())
    assert printed == {
        "argv": ["checkout", "1.4.1; rm -rf / #", f"--to={STABLE}"],
        "cwd": str(tmp_path),
        "artifact": STABLE,
        "extra": "production-eu-west-1",
    }
    assert result.detail.startswith(f"{PY} exited 0")


async def test_non_zero_exit_is_final(req: RollbackRequest) -> None:
    script = "import sys; print('deploying'); sys.stderr.write('error: image not found\\n'); sys.exit(3)"
    result = await target([PY, "-c", script]).rollback(req)
    assert not result.ok
    assert "failed with exit 3: error: image not found" in result.detail
    assert result.attempts == 1 and "deploying" in result.output


async def test_exit_75_is_retried(tmp_path: Path, req: RollbackRequest) -> None:
    counter = tmp_path / "runs"
    script = (
        "import sys, pathlib; p = pathlib.Path(sys.argv[1]); n = int(p.read_text()) if p.exists() else 0; "
        "p.write_text(str(n + 1)); sys.exit(75 if n == 0 else 0)"
    )
    result = await target([PY, "-c", script, str(counter)]).rollback(req)
    assert result.ok, result.detail
    assert result.attempts == 2 and counter.read_text() == "2"


async def test_timeout_stops_the_process_group(tmp_path: Path, req: RollbackRequest) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(c.pid)); time.sleep(60)"
    )
    result = await target([PY, "-c", script], timeout=0.5).rollback(req)
    assert not result.ok
    assert "did not finish within 0.5 s" in result.detail
    child = int(pid_file.read_text())
    for _ in range(50):  # the kernel delivers the group signal asynchronously
        if not alive(child):
            break
        time.sleep(0.02)
    assert not alive(child)


async def test_secrets_from_the_environment_are_redacted(req: RollbackRequest) -> None:
    script = "import os; print('using token', os.environ['TOKEN'])"
    t = target([PY, "-c", script], env={"TOKEN": "${DEPLOY_TOKEN}"}, environ={"DEPLOY_TOKEN": KNOWN_SECRET})
    result = await t.rollback(req)
    assert result.ok, result.detail
    assert "using token ***" in result.output
    assert KNOWN_SECRET not in result.output + result.detail


async def test_output_is_bounded(req: RollbackRequest) -> None:
    result = await target([PY, "-c", "print('x' * 2_000_000)"]).rollback(req)
    assert result.ok
    assert len(result.output) < LIMIT + 200 and "characters dropped" in result.output


async def test_second_identical_request_runs_once(tmp_path: Path, req: RollbackRequest) -> None:
    log = tmp_path / "log"
    t = target([PY, "-c", "import sys; open(sys.argv[1], 'a').write('ran\\n')", str(log)])
    first, second = await t.rollback(req), await t.rollback(req)
    assert first.ok and second.ok and "already rolled back" in second.detail
    assert log.read_text() == "ran\n"
    assert (await t.current(req)).artifact is None


async def test_missing_program(req: RollbackRequest) -> None:
    result = await target(["/nonexistent/deploy.sh", "{{ artifact }}"]).rollback(req)
    assert not result.ok and "cannot run /nonexistent/deploy.sh" in result.detail


async def test_the_program_gets_a_minimal_environment_plus_what_its_config_names(
    req: RollbackRequest,
) -> None:
    script = "import json, os; print(json.dumps(dict(os.environ)))"
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": "/home/deploy",
        "LANG": "C.UTF-8",
        "WATCHDOG_ADMIN_TOKEN": KNOWN_SECRET,
        "DEPLOY_TOKEN": "deploy-token-value-0123",
        "AWS_PROFILE": "prod",
    }
    t = target([PY, "-c", script], env={"TOKEN": "${DEPLOY_TOKEN}"}, environ=environ)
    result = await t.rollback(req)
    assert result.ok, result.output
    seen = json.loads(result.output.split("stdout:\n", 1)[1].strip().splitlines()[0])
    seen = {k: v for k, v in seen.items() if k not in ("PWD", "SHLVL", "_", "LC_CTYPE")}
    assert seen.pop("TOKEN") == "***"  # named by its config; the transcript redacts the value
    assert {k for k in seen if not k.startswith("WATCHDOG_")} == {"PATH", "HOME", "LANG"}
    assert "WATCHDOG_ADMIN_TOKEN" not in seen and "AWS_PROFILE" not in seen
    assert seen["WATCHDOG_ARTIFACT"] == req.artifact
