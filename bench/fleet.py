"""Real processes for the daemon benches: the demo service, a probe counter and K `watchdog serve` daemons.

Also what those benches read from outside the daemons: signed events through the webhook intake, the CPU
and RSS of every daemon's process tree (/proc), and the store's rows (a SQLite file or a PostgreSQL database).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.engine import _samples, free_port  # noqa: E402
from bench.engine import write_config as engine_config  # noqa: E402
from bench.intake import SECRET  # noqa: E402
from tests.store.conftest import fresh_pg_database  # noqa: E402
from watchdog.clock import utc  # noqa: E402
from watchdog.intake.signatures import sign_standard  # noqa: E402
from watchdog.store.db import normalize_url  # noqa: E402
from watchdog.store.schema import samples, transitions, verifications  # noqa: E402

CLIENTS = 20  # concurrent warm clients sending the events, as bench/intake.py
TICK = os.sysconf("SC_CLK_TCK")


def wait_port(port: int, *, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port} after {timeout:g}s")


@contextmanager
def services() -> Iterator[tuple[int, int]]:
    """The demo service (healthz + /metrics, 200 synthetic req/s) and the probe counter: their ports."""
    demo_port, counter_port = free_port(), free_port()
    quiet = subprocess.DEVNULL
    demo_cmd = [sys.executable, "-m", "watchdog.demo", "--port", str(demo_port), "--rps", "200"]
    counter_cmd = [sys.executable, str(ROOT / "bench" / "probe_counter.py"), "--port", str(counter_port)]
    procs = [
        subprocess.Popen(demo_cmd, cwd=ROOT, stdout=quiet, stderr=quiet),
        subprocess.Popen(counter_cmd, stdout=quiet, stderr=quiet),
    ]
    try:
        wait_port(demo_port)
        wait_port(counter_port)
        yield demo_port, counter_port
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def probe_times(counter_port: int) -> dict[str, list[float]]:
    """Deployment id -> when each probe of the counted check came (epoch s, in order)."""
    return dict(httpx.get(f"http://127.0.0.1:{counter_port}/counts", timeout=30).json())


def write_config(
    root: Path,
    *,
    demo_port: int,
    counter_port: int,
    interval: int,
    duration: str,
    environments: int,
    distinct: bool = False,
) -> Path:
    """bench/engine.py's policy (2 http checks + 1 scrape), in `environments` environments e0, e1, ...

    Its `version` check goes to the probe counter with the deployment id in the URL, so the probes of every
    verification can be counted; distinct environments keep one deploy from superseding another. They share
    one policy (the service's defaults), or with `distinct` each has its own (a dashboard link of its own),
    the worst case for memory: equal policies are held once, distinct ones each on their own.
    """
    config = engine_config(root, demo_port, interval)
    path = config / "services" / "bench.yaml"
    policy = yaml.safe_load(path.read_text())
    checks = policy["environments"].pop("prod")["checks"]
    for check in checks:
        if check["name"] == "version":
            check["url"] = f"http://127.0.0.1:{counter_port}/healthz?d={{{{ deployment_id }}}}"
    policy["defaults"]["checks"] = checks
    policy["defaults"]["verification"]["duration"] = duration
    policy["environments"] = {
        f"e{i}": {"dashboards": {"runbook": f"https://grafana.example/d/bench-e{i}"}} if distinct else {}
        for i in range(environments)
    }
    path.write_text(yaml.safe_dump(policy))
    return config


@contextmanager
def database(store: str | None) -> Iterator[str | None]:
    """None (each run's own SQLite file), or a fresh database on that PostgreSQL server, dropped after."""
    if store is None:
        yield None
        return
    with fresh_pg_database(store) as url:
        yield url


class Fleet:
    """K `watchdog serve` processes (instance ids bench-d0 ..) on one store, each with its own port."""

    def __init__(self, root: Path, config: Path, *, daemons: int, workers: int | None, url: str | None):
        self.root, self.config, self.workers = root, config, workers
        self.url = url or f"sqlite:///{root / 'watchdog.db'}"
        self.ports = [free_port() for _ in range(daemons)]
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def log(self, i: int) -> Path:
        return self.root / f"daemon{i}.log"

    def start(self) -> Fleet:
        for i, port in enumerate(self.ports):
            data = self.root / f"data{i}"
            data.mkdir(exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
            env.update(
                WATCHDOG_DATA_DIR=str(data),
                WATCHDOG_DATABASE_URL=self.url,
                WATCHDOG_WEBHOOK_SECRET=SECRET,
                WATCHDOG_INSTANCE_ID=f"bench-d{i}",
                # The first daemon migrates the store; the others start on it once it is ready.
                WATCHDOG_AUTO_MIGRATE="true" if i == 0 else "false",
            )
            cmd = [
                sys.executable,
                "-m",
                "watchdog",
                "serve",
                "--config",
                str(self.config),
                "--port",
                str(port),
            ]
            cmd += [] if self.workers is None else ["--workers", str(self.workers)]
            with self.log(i).open("ab") as out:
                proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=data)
            self.procs.append(proc)
            self._ready(i)
        return self

    def _ready(self, i: int) -> None:
        """Its /readyz answers and every engine worker it started says it runs (else their shares wait)."""
        began = time.monotonic()
        while time.monotonic() - began < 120:
            if self.procs[i].poll() is not None:
                raise SystemExit(f"daemon {i} exited:\n{self.log(i).read_text()[-3000:]}")
            text = self.log(i).read_text(errors="replace")
            found = re.search(r"engine workers started beside this one \(pids \[([\d, ]+)\]\)", text)
            expected = len(found.group(1).split(",")) if found else 0
            running = len(re.findall(r"engine worker \S+ running", text))
            try:
                ok = httpx.get(f"{self.urls[i]}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            # 2 s at least: the line naming the workers may come a moment after /readyz first answers.
            if ok and running >= expected and time.monotonic() - began > 2:
                return
            time.sleep(0.5)
        raise SystemExit(f"daemon {i} not ready in 120 s:\n{self.log(i).read_text()[-3000:]}")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(90)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)

    def warnings(self, top: int = 8) -> dict[str, int]:
        """The daemons' WARNING and ERROR lines, numbers and ids blanked so alike lines count as one."""
        found: Counter[str] = Counter()
        for i in range(len(self.procs)):
            for line in self.log(i).read_text(errors="replace").splitlines():
                if " WARNING " in line or " ERROR " in line:
                    text = re.sub(r"^[\d-]+ [\d:,]+ +", "", line)
                    found[re.sub(r"\d+(\.\d+)?", "N", re.sub(r"[0-9a-f]{8,}", "<id>", text))[:200]] += 1
        return dict(found.most_common(top))

    def tree(self) -> dict[int, str]:
        """Every live process of the fleet: pid -> its name (daemon i, or daemon i's worker)."""
        parents: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(stat.parent.name))
        found: dict[int, str] = {}
        for i, p in enumerate(self.procs):
            if p.poll() is None:
                found[p.pid] = f"bench-d{i}"
                found.update(
                    {c: f"bench-d{i}-w{j + 1}" for j, c in enumerate(sorted(parents.get(p.pid, [])))}
                )
        return found

    def usage(self) -> dict[str, tuple[float, float]]:
        """Per process of the tree: (CPU seconds so far, RSS MB now)."""
        out = {}
        for pid, name in self.tree().items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue  # it ended between the listing and the read
            rss = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
            out[name] = ((int(fields[11]) + int(fields[12])) / TICK, rss / 1024)
        return out


def deploy_event(i: int, *, environment: str, deployed_at: datetime) -> dict[str, Any]:
    return {
        "service": "bench",
        "environment": environment,
        "version": f"1.0.{i}",
        "artifact": f"reg/bench@sha256:{i:064x}",
        "deployed_at": deployed_at.isoformat(),
    }


# Answers other than 202 that a sender retried, by status: a deploy system redelivers the same message.
REFUSED: Counter[int] = Counter()
RETRIES, RETRY_AFTER_S = 20, 1.0


async def post_event(client: httpx.AsyncClient, url: str, event: dict[str, Any]) -> tuple[str, float]:
    """One signed event through the webhook intake: its deployment id and when its 202 came (epoch s).

    A 503 (the store refused the write: nothing was written) or 429 is redelivered with the same message id
    after a second, as a Standard Webhooks sender does, and counted in REFUSED; anything else ends the run.
    """
    body = json.dumps(event).encode()
    msg_id = f"msg_{uuid.uuid4().hex}"
    for _ in range(RETRIES):
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign_standard(secret=SECRET, msg_id=msg_id, timestamp=ts, body=body),
        }
        r = await client.post(f"{url}/v1/events", content=body, headers=headers)
        if r.status_code == 202:
            return str(r.json()["deployment_id"]), time.time()
        if r.status_code not in (429, 503):
            break
        REFUSED[r.status_code] += 1
        await asyncio.sleep(RETRY_AFTER_S)
    raise SystemExit(f"event refused with {r.status_code}: {r.text[:300]}")


async def send_all(urls: list[str], deploys: list[tuple[int, str, float]]) -> dict[str, float]:
    """Each (i, environment, age in s) deployed that long before its event is sent, from CLIENTS warm clients
    (client c to daemon c mod K): deployment id -> its 202 time. The age is applied at sending, so a slow
    intake does not make the later deploys old (and their first samples late) before the daemon has them.
    """
    queue = list(reversed(deploys))
    accepted: dict[str, float] = {}

    async def client(c: int) -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            while queue:
                i, environment, age = queue.pop()
                at = datetime.now(UTC) - timedelta(seconds=age)
                event = deploy_event(i, environment=environment, deployed_at=at)
                dep, answered = await post_event(http, urls[c % len(urls)], event)
                accepted[dep] = answered

    await asyncio.gather(*(client(c) for c in range(CLIENTS)))
    return accepted


def store_engine(url: str) -> sa.Engine:
    return sa.create_engine(normalize_url(url))


def states(db: sa.Engine) -> Counter[str]:
    q = sa.select(verifications.c.state, sa.func.count()).group_by(verifications.c.state)
    with db.connect() as conn:
        return Counter({str(s): int(n) for s, n in conn.execute(q)})


def owners(db: sa.Engine) -> Counter[str]:
    """Verifications per lease owner (read before the drain, which lets the leases go)."""
    v = verifications.c
    q = sa.select(v.lease_owner, sa.func.count()).where(v.lease_owner.is_not(None)).group_by(v.lease_owner)
    with db.connect() as conn:
        return Counter({str(o): int(n) for o, n in conn.execute(q)})


def starts(db: sa.Engine) -> dict[str, float]:
    """Deployment id -> when its verification left `pending` (the start step's transition), epoch s."""
    t = transitions.c
    q = (
        sa.select(t.deployment_id, sa.func.min(t.at))
        .where(t.from_state == "pending")
        .group_by(t.deployment_id)
    )
    with db.connect() as conn:
        return {str(d): utc(at).timestamp() for d, at in conn.execute(q)}


def rows_per_deployment(db: sa.Engine, check: str) -> tuple[Counter[str], Counter[str]]:
    """Per deployment, its stored samples of one check that may have a probe behind them (all but those shed
    unprobed for lateness) and those that must (a pass or a fail): what the probe counts are held against.
    """
    s = samples.c
    q = (
        sa.select(verifications.c.deployment_id, s.outcome, sa.func.count())
        .join(verifications, s.verification_id == verifications.c.id)
        .where(s.check_name == check, s.reason.not_like("%sample taken % late%"))
        .group_by(verifications.c.deployment_id, s.outcome)
    )
    may: Counter[str] = Counter()
    must: Counter[str] = Counter()
    with db.connect() as conn:
        for d, outcome, n in conn.execute(q):
            may[str(d)] += int(n)
            must[str(d)] += int(n) if outcome in ("pass", "fail") else 0
    return may, must


def sample_rows(db: sa.Engine) -> list[tuple[datetime, datetime, int, float, str, str | None, str]]:
    """bench/engine.py's sample rows (taken, starts, k, interval, outcome, reason, verification id)."""
    return _samples(db)
