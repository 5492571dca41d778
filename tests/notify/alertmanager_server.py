"""Debian's real `prometheus-alertmanager`, started on a free loopback port with its own data dir.

Clustering is off (no gossip port), so each test's Alertmanager is alone and leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CONFIG = "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n"


@dataclass
class Alertmanager:
    url: str
    proc: subprocess.Popen[bytes]

    def silences(self) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.url}/api/v2/silences", timeout=5)
        r.raise_for_status()
        return list(r.json())

    def silence(self, silence_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.url}/api/v2/silence/{silence_id}", timeout=5)
        r.raise_for_status()
        return dict(r.json())


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    if BINARY is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus-alertmanager is not installed (.ci/system-deps installs it)")
        pytest.skip("prometheus-alertmanager is not installed; `make system-deps` installs it")
    home = tmp_path / "alertmanager"
    home.mkdir()
    (home / "alertmanager.yml").write_text(CONFIG)
    port = free_port()
    log = (home / "log").open("wb")
    proc = subprocess.Popen(
        [
            BINARY,
            f"--config.file={home / 'alertmanager.yml'}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    am = Alertmanager(url=f"http://127.0.0.1:{port}", proc=proc)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited: {(home / 'log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{am.url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("alertmanager did not become ready")
            time.sleep(0.1)
        yield am
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
