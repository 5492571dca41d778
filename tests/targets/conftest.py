"""Fixtures for the target adapters: a rollback request, quick backoff, and the loopback fakes they talk to.

Every fake is a real server or a real executable; nothing of ours is patched.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.argocd_api import FakeArgoCD
from tests.fakes.fake_helm import FakeHelm
from tests.fakes.kubernetes_api import FakeKubernetes
from watchdog.targets.base import RollbackRequest
from watchdog.targets.retry import Backoff

REPO = "registry.example/checkout"
STABLE = f"{REPO}:1.4.1"
FAILED = f"{REPO}:1.4.2"

QUICK = Backoff(attempts=4, base=0.01, factor=2.0, max_delay=0.05)


def request(**changes: str) -> RollbackRequest:
    values = {
        "deployment_id": "dep-42",
        "service": "checkout",
        "environment": "production",
        "version": "1.4.1",
        "artifact": STABLE,
        "failed_version": "1.4.2",
        "failed_artifact": FAILED,
    }
    values.update(changes)
    return RollbackRequest(**values)


@pytest.fixture
def req() -> RollbackRequest:
    return request()


@pytest.fixture
def kube() -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes(token="kube-token-1234").start()
    yield fake
    fake.stop()


@pytest.fixture
def argocd() -> Iterator[FakeArgoCD]:
    fake = FakeArgoCD(token="argo-token-5678").start()
    yield fake
    fake.stop()


@pytest.fixture
def helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHelm:
    """A fake `helm` first on PATH, answering from a JSON state file and logging argv."""
    fake = FakeHelm.install(tmp_path / "helm-bin")
    monkeypatch.setenv("PATH", f"{fake.bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")
    return fake


@pytest.fixture(scope="session")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 made by openssl, serving as its own CA."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    out = tmp_path_factory.mktemp("tls")
    cert, key = out / "ca.crt", out / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
