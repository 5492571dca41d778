"""SIGKILL at a random moment while a bad and a good deploy are verified side by side, then a restart:
the same invariants as at the named crash points, over 20 seeded timings on SQLite and a few on PostgreSQL.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.crash.harness import world
from tests.store.conftest import fresh_pg_database

pytestmark = pytest.mark.slow

SQLITE_RUNS = 20
POSTGRES_RUNS = 2


def run_once(root: Path, database: str, seed: int) -> None:
    delay = random.Random(seed).uniform(0.2, 22.0)  # from before the first sample to after the rollback
    with world(root, database, services=("shop", "cart")) as w:
        first = w.daemon()
        bad = w.deploy(first, "shop", "1.1.0-bad")
        good = w.deploy(first, "cart", "1.1.0")
        time.sleep(delay)
        first.kill()
        again = w.daemon()
        rolled = w.settled(again, bad, {"rolled_back"})
        passed = w.settled(again, good, {"passed"})
        where = f"seed {seed}, killed after {delay:.2f}s"
        assert rolled["state"] == "rolled_back", (where, rolled["reasons"])
        assert w.restores("shop") == 1, (where, w.apps["shop"].deploys)
        assert [r["to_version"] for r in rolled["rollbacks"]] == ["1.0.0"], where
        assert passed["state"] == "passed", (where, passed["reasons"])
        assert w.artifact_status("cart", "1.1.0") == "stable", where
        assert w.artifact_status("shop", "1.1.0-bad") == "bad", where
        assert w.restores("cart") == 0, where
        bad_sent, good_sent = w.messages(bad), w.messages(good)
        assert bad_sent["failed"] == 1 and bad_sent["rolled_back"] == 1, (where, bad_sent)
        assert good_sent["passed"] == 1 and good_sent["started"] == 1, (where, good_sent)
        w.check_nothing_left()


@pytest.mark.parametrize("seed", range(SQLITE_RUNS))
def test_random_sigkill_on_sqlite(tmp_path: Path, seed: int) -> None:
    run_once(tmp_path, f"sqlite:///{tmp_path / 'watchdog.db'}", seed)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(100, 100 + POSTGRES_RUNS))
def test_random_sigkill_on_postgres(tmp_path: Path, seed: int, pg_url: str) -> None:
    with fresh_pg_database() as url:
        run_once(tmp_path, url, seed)
