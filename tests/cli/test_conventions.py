"""CLI conventions, through the real `watchdog` process: --version, completion, closed pipes, db downgrade,
`check --online` listing every problem, and `watchdog init` writing a policy that `watchdog check` accepts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from watchdog import __version__

ROOT = Path(__file__).resolve().parents[2]


def watchdog(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHDOG_", "DD_", "SENTRY_"))}
    return subprocess.run(
        [sys.executable, "-m", "watchdog", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_version() -> None:
    result = watchdog("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"watchdog {__version__}")


def complete(script: str, *words: str) -> list[str]:
    """What bash's completion of `watchdog WORDS...` offers (the last word is the one being completed)."""
    line = " ".join(f"'{w}'" for w in ("watchdog", *words))
    call = f'COMP_WORDS=({line}); COMP_CWORD={len(words)}; _watchdog; printf "%s\\n" "${{COMPREPLY[@]}}"'
    program = f"{script}\n{call}"
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_completion_completes_commands_subcommands_and_options() -> None:
    script = watchdog("completion", "bash").stdout
    assert "complete -o default -F _watchdog watchdog" in script
    assert {"serve", "check", "simulate", "db", "init", "completion", "--version"} <= set(
        complete(script, "")
    )
    assert complete(script, "si") == ["simulate"]
    assert complete(script, "db", "") == ["upgrade", "downgrade", "current", "--help"]
    assert complete(script, "serve", "--demo") == ["--demo", "--demo-port"]
    assert complete(script, "db", "--url", "x", "downgrade", "--u") == ["--url"]
    assert complete(script, "completion", "") == ["--help"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(shell: str, tmp_path: Path) -> None:
    result = watchdog("completion", shell)
    assert result.returncode == 0
    script = result.stdout
    if shell == "zsh":
        assert script.startswith("#compdef watchdog") and "compdef _watchdog watchdog" in script
        assert "'db upgrade'" not in script and '("db") opts=(' in script and "'upgrade:migrate" in script
    else:
        assert "complete -c watchdog -n '__fish_use_subcommand' -a serve -d 'run the daemon'" in script
        assert (
            "complete -c watchdog -n '__fish_seen_subcommand_from db; and not __fish_seen_subcommand_from "
            "upgrade downgrade current' -a downgrade" in script
        )
        assert "-n '__fish_seen_subcommand_from serve' -l demo-port" in script
    binary = shutil.which(shell)
    if binary:  # the shell's own parser, where it is installed
        path = tmp_path / f"watchdog.{shell}"
        path.write_text(script)
        check = subprocess.run([binary, "-n", str(path)], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("args", [("schema",), ("completion", "fish"), ("--help",)])
def test_a_closed_pipe_is_no_traceback(args: tuple[str, ...]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader (`| head`) is gone before the first byte
    try:
        result = subprocess.run(
            [sys.executable, "-m", "watchdog", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode in (0, 141)


def test_db_downgrade_needs_an_explicit_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wd.db'}"
    assert watchdog("db", "upgrade", "--url", url).returncode == 0
    head = watchdog("db", "current", "--url", url).stdout.strip()
    bare = watchdog("db", "downgrade", "--url", url)
    assert bare.returncode == 2 and "the following arguments are required: revision" in bare.stderr
    assert watchdog("db", "current", "--url", url).stdout.strip() == head  # nothing was dropped
    assert watchdog("db", "downgrade", "base", "--url", url).stdout.strip().endswith("base (empty)")


def test_check_online_lists_every_problem(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text(
        "sources:\n"
        "  dd: {type: datadog, site: datadoghq.com, api_key_env: DD_API_KEY, app_key_env: DD_APP_KEY}\n"
        "  se: {type: sentry, url: 'https://s.io', organization: a, project: b, token_env: SENTRY_TOKEN}\n"
        f"  app: {{type: scrape, url: '{dead}/metrics'}}\n"
    )
    (config / "services" / "shop.yaml").write_text(
        "service: shop\n"
        "defaults: {on_failure: alert}\n"
        "environments:\n"
        "  prod:\n"
        "    checks:\n"
        f"      - {{name: healthz, type: http, url: '{dead}/healthz'}}\n"
        "      - {name: p99, type: latency, source: dd, query: 'p99:trace.x{*}', max: 1}\n"
        "      - {name: crashes, type: metric, source: se, query: 'crash_free_rate(session)', min: 0.9}\n"
        "      - {name: errors, type: error_rate, source: app, errors: e, requests: r, max: 0.1}\n"
    )
    result = watchdog("check", str(config), "--online")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("source dd: ERROR") and "DD_API_KEY" in line for line in lines), lines
    assert any(line.startswith("source se: ERROR") and "SENTRY_TOKEN" in line for line in lines), lines
    for name in ("healthz", "p99", "crashes", "errors"):
        assert any(line.startswith(f"shop/prod {name}: ERROR") for line in lines), (name, lines)


def test_init_writes_a_policy_that_check_accepts(tmp_path: Path) -> None:
    config = tmp_path / "fresh"
    made = watchdog("init", "shop", "--config", str(config))
    assert made.returncode == 0, made.stderr
    assert (config / "services" / "shop.yaml").exists() and (config / "watchdog.yaml").exists()
    checked = watchdog("check", str(config))
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.strip() == f"{config} OK: 1 services, 2 environments, 2 checks"
    again = watchdog("init", "shop", "--config", str(config))
    assert again.returncode == 1 and "exists; --force overwrites it" in again.stderr


def test_init_beside_the_shipped_config_with_a_target(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    made = watchdog(
        "init", "cart", "--config", str(config), "--target", "k8s-prod", "--environment", "production"
    )
    assert made.returncode == 0, made.stderr
    text = (config / "services" / "cart.yaml").read_text()
    assert "on_failure: rollback" in text and "target: k8s-prod" in text
    assert watchdog("check", str(config)).returncode == 0
    refused = watchdog("init", "cart2", "--config", str(config), "--target", "k8s-nowhere")
    assert refused.returncode == 1 and "unknown target 'k8s-nowhere'" in refused.stderr
    assert not (config / "services" / "cart2.yaml").exists()
    assert watchdog("init", "Bad Name", "--config", str(config)).returncode == 2
