"""Hostile policy files: a YAML alias bomb and an oversized file are refused with file:line, fast.

A refused reload keeps the last good policies and shows in /readyz and /metrics, not only in the log.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.harness import make_runtime
from watchdog.api.app import create_app
from watchdog.cli import main
from watchdog.policy.reload import PolicyHolder
from watchdog.policy.yamlfile import MAX_FILE_BYTES, parse_yaml

BOMB = """service: demo
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def test_an_alias_bomb_is_refused_at_its_first_alias(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert len(BOMB) < 300  # 9**7 values once expanded
    (problem,) = parse_yaml(path).problems
    assert problem.line == 3 and "aliases expand this file to more than 100,000 values" in problem.message


def test_modest_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &base {interval: 30s}\nstaging: *base\nproduction: {<<: *base, warmup: 60s}\n")
    doc = parse_yaml(path)
    assert doc.problems == () and doc.data["production"]["interval"] == "30s"


def test_a_file_over_one_mib_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("service: demo\n# " + "x" * MAX_FILE_BYTES + "\n")
    (problem,) = parse_yaml(path).problems
    assert problem.line == 1 and "at most 1,048,576 (1 MiB)" in problem.message


def test_watchdog_check_names_the_file_and_line(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (config_dir / "services" / "demo.yaml").write_text(BOMB)
    assert main(["check", str(config_dir)]) == 1
    out = capsys.readouterr()
    assert f"{config_dir / 'services' / 'demo.yaml'}:3:1: YAML aliases expand" in out.out + out.err


async def test_a_refused_reload_shows_in_readyz_and_metrics(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    holder: PolicyHolder = runtime.policies
    good = holder.current
    service = next((tmp_path / "config" / "services").iterdir())
    original = service.read_text()
    service.write_text(BOMB)
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://watchdog.test") as client:
        assert len(await holder.reload_if_changed_async()) == 1
        assert holder.current is good
        ready = (await client.get("/readyz")).json()
        assert ready["ready"] is True  # the previous policies still run
        assert f"{service}:3:1: YAML aliases expand" in ready["policy_reload_error"]
        metrics = (await client.get("/metrics")).text
        assert "watchdog_policy_reload_errors_total 1.0" in metrics
        service.write_text(original + "# fixed\n")
        assert await holder.reload_if_changed_async() == []
        assert "policy_reload_error" not in (await client.get("/readyz")).json()
        assert "watchdog_policy_reload_errors_total 1.0" in (await client.get("/metrics")).text
    runtime.store.close()
