"""A fake `helm` executable: `version --short`, `history -o json` and `rollback` over a JSON state file.

FakeHelm.install writes it into a directory a fixture puts first on PATH; each argv is logged as JSON lines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCRIPT = r"""
import json, sys, time
from pathlib import Path

here = Path(__file__).resolve().parent
state_file = here / "state.json"
state = json.loads(state_file.read_text())
argv = sys.argv[1:]
with open(here / "calls.jsonl", "a") as log:
    log.write(json.dumps(argv) + "\n")


def flag(name, default=None):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


def save():
    state_file.write_text(json.dumps(state))


def die(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)


command = argv[0] if argv else ""
for failure in state.get("failures", []):
    if failure["command"] == command and failure["times"] > 0:
        failure["times"] -= 1
        if failure.get("failed_revision") and command == "rollback":
            history = state["releases"][flag("-n", "default") + "/" + argv[1]]
            target = next(r for r in history if r["revision"] == int(argv[2]))
            history.append(dict(target, revision=history[-1]["revision"] + 1, status="failed",
                                description="Rollback " + argv[2] + " failed: " + failure["stderr"]))
        save()
        time.sleep(failure.get("sleep", 0))
        die(failure["stderr"], failure["exit"])

if command == "version":
    print(state["version"] if "--short" in argv else "version.BuildInfo{Version:\"%s\"}" % state["version"])
elif command == "history":
    key = flag("-n", "default") + "/" + argv[1]
    if key not in state["releases"]:
        die("Error: release: not found")
    if flag("-o") != "json":
        die("fake helm only answers history -o json")
    print(json.dumps(state["releases"][key][-int(flag("--max", "256")):]))
elif command == "rollback":
    key = flag("-n", "default") + "/" + argv[1]
    if key not in state["releases"]:
        die("Error: release: not found")
    wait = [a for a in argv if a == "--wait" or a.startswith("--wait=")]
    if state["version"].startswith("v3") and any(a not in ("--wait", "--wait=true") for a in wait):
        die('Error: invalid argument "%s" for "--wait" flag: strconv.ParseBool: invalid syntax' % wait[0])
    history = state["releases"][key]
    if len(argv) < 3 or not argv[2].isdigit() or argv[2] == "0":
        die("fake helm refuses a rollback without an explicit revision (it would go to current-1)")
    target = next((r for r in history if r["revision"] == int(argv[2])), None)
    if target is None:
        die('Error: release has no %s version' % argv[2])
    for r in history:
        if r["status"] == "deployed":
            r["status"] = "superseded"
    history.append(dict(target, revision=history[-1]["revision"] + 1, status="deployed",
                        updated="2026-11-01T12:30:00Z", description="Rollback to " + argv[2]))
    save()
    print("Rollback was a success! Happy Helming!")
else:
    die("fake helm: unknown command " + command)
"""


def revision(number: int, app_version: str, status: str, *, chart: str = "checkout") -> dict[str, Any]:
    return {
        "revision": number,
        "updated": f"2026-11-01T1{number % 10}:00:00Z",
        "status": status,
        "chart": f"{chart}-0.{number}.0",
        "app_version": app_version,
        "description": "Install complete" if number == 1 else "Upgrade complete",
    }


class FakeHelm:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.state_file = bin_dir / "state.json"

    @classmethod
    def install(cls, bin_dir: Path, *, version: str = "v3.15.4+gfa9efb0") -> FakeHelm:
        bin_dir.mkdir(parents=True, exist_ok=True)
        exe = bin_dir / "helm"
        exe.write_text(f"#!{sys.executable}\n{SCRIPT}")
        exe.chmod(0o755)
        fake = cls(bin_dir)
        fake._write({"version": version, "releases": {}, "failures": []})
        return fake

    def _read(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.state_file.read_text())
        return data

    def _write(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state))

    def set_version(self, version: str) -> None:
        state = self._read()
        state["version"] = version
        self._write(state)

    def set_history(self, namespace: str, release: str, entries: list[dict[str, Any]]) -> None:
        state = self._read()
        state["releases"][f"{namespace}/{release}"] = entries
        self._write(state)

    def history(self, namespace: str, release: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self._read()["releases"][f"{namespace}/{release}"]
        return entries

    def fail(
        self,
        command: str,
        *,
        stderr: str,
        exit: int = 1,
        times: int = 1,
        sleep: float = 0,
        failed_revision: bool = False,
    ) -> None:
        """The next `times` runs of `command` fail with `stderr` and `exit`."""
        state = self._read()
        state["failures"].append(
            {
                "command": command,
                "stderr": stderr,
                "exit": exit,
                "times": times,
                "sleep": sleep,
                "failed_revision": failed_revision,
            }
        )
        self._write(state)

    def calls(self, command: str | None = None) -> list[list[str]]:
        log = self.bin_dir / "calls.jsonl"
        if not log.exists():
            return []
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return [c for c in calls if command is None or (c and c[0] == command)]
