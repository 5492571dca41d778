"""Prometheus for tests: the real Debian binary started on a free loopback port, and a scripted fake.

`running_prometheus(targets=[...], workdir=tmp_path)` scrapes the targets every second until closed;
`FakePrometheus` answers /api/v1/query and /api/v1/query_range from a table, for auth and retry tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer


def prometheus_binary() -> str:
    """The `prometheus` executable; skips the test when missing (fails it in CI, where it must exist)."""
    found = shutil.which("prometheus")
    if found:
        return found
    message = "the prometheus binary could not be found or installed (bash .ci/system-deps installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class PrometheusProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, promql: str) -> Any:
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        return r.json()["data"]["result"]


def _config(*, targets: list[str], interval: str) -> str:
    hosts = ", ".join(f"'{t.removeprefix('http://').rstrip('/')}'" for t in targets)
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"scrape_configs:\n  - job_name: demo\n    scrape_interval: {interval}\n"
        f"    static_configs:\n      - targets: [{hosts}]\n"
    )


def _wait(condition: Any, *, what: str, process: subprocess.Popen[bytes], log: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if condition():
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prometheus: {what} not reached within {limit:g}s:\n{log.read_text()[-3000:]}")


@contextmanager
def running_prometheus(
    *, targets: list[str], workdir: Path, interval: str = "1s", limit: float = 60.0
) -> Iterator[PrometheusProcess]:
    """Starts the real binary scraping `targets` (http://host:port); yields once every target is up."""
    binary = prometheus_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(_config(targets=targets, interval=interval))
    log = workdir / "prometheus.log"
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    prom = PrometheusProcess(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        _wait(
            lambda: httpx.get(f"{prom.url}/-/ready", timeout=2).status_code == 200,
            what="ready",
            process=process,
            log=log,
            limit=limit,
        )

        def all_up() -> bool:
            data = httpx.get(f"{prom.url}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
            return len(data) == len(targets) and all(t["health"] == "up" for t in data)

        _wait(all_up, what="targets up", process=process, log=log, limit=limit)
        yield prom
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- a scripted fake of the HTTP API -------------------------------------------------------------


def vector(*values: float | str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A success envelope holding one vector series per value."""
    result: list[dict[str, Any]] = [
        {"metric": {**(labels or {}), "i": str(i)}, "value": [0.0, str(v)]} for i, v in enumerate(values)
    ]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def matrix(*series: list[tuple[float, float | str]]) -> dict[str, Any]:
    result = [{"metric": {"i": str(i)}, "values": [[t, str(v)] for t, v in s]} for i, s in enumerate(series)]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def error(error_type: str, message: str) -> dict[str, Any]:
    return {"status": "error", "errorType": error_type, "error": message}


class FakePrometheus(ScriptedServer):
    """Answers by query text from `answers` (envelopes); unknown queries get an empty vector."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, dict[str, Any]] = {}

    def handle(self, request: Recorded) -> Reply:
        if request.path not in ("/api/v1/query", "/api/v1/query_range"):
            return Reply(404, b"404 page not found")
        query = request.param("query") or ""
        if not query:
            return Reply(400, error("bad_data", 'invalid parameter "query": unknown position'))
        answer = self.answers.get(query)
        if answer is None:
            kind = "matrix" if request.path.endswith("query_range") else "vector"
            answer = {"status": "success", "data": {"resultType": kind, "result": []}}
        return Reply(400 if answer["status"] == "error" else 200, answer)


# ---- the real binary serving backfilled history -------------------------------------------------


@contextmanager
def backfilled_prometheus(
    *, openmetrics: Path, workdir: Path, limit: float = 60.0
) -> Iterator[PrometheusProcess]:
    """Writes `openmetrics` into TSDB blocks with promtool, then serves them from the real binary.

    The history must end a few hours before now: Prometheus answers from blocks outside its head, and
    retention is set wide (10 years) so the past is never deleted on start.
    """
    binary = prometheus_binary()
    promtool = shutil.which("promtool") or str(Path(binary).with_name("promtool"))
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    # One block per month of samples: fewer blocks for the binary to open and compact on start.
    made = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            "--max-block-duration=744h",
            str(openmetrics),
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if made.returncode != 0:
        raise RuntimeError(f"promtool failed ({made.returncode}): {made.stderr[-3000:]}")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    log = workdir / "prometheus.log"
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=3650d",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    prom = PrometheusProcess(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        _wait(
            lambda: httpx.get(f"{prom.url}/-/ready", timeout=2).status_code == 200,
            what="ready",
            process=process,
            log=log,
            limit=limit,
        )
        yield prom
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
