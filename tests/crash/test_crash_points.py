"""For every step boundary of the lifecycle, a real daemon dies there (SIGKILL from a named fault point) and
a fresh process is started on the same store: the verdict and its consequences come out as if nothing died.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crash.harness import world
from tests.store.conftest import fresh_pg_database

pytestmark = pytest.mark.slow

# Where a bad deploy's lifecycle can be cut, in the order it passes them.
BAD_POINTS = [
    "after_sample_written",
    "after_verdict",
    "after_action:mark_bad",
    "after_action:rollback",
    "before_target_call",
    "after_target_call",
    "after_action:target_call",
    "after_rollback_verdict",
    "after_action:finish_rollback",
    "after_action:announce",
    "after_notify_sent",
    "after_action:notify",
]
GOOD_POINTS = [
    "after_sample_written",
    "after_verdict",
    "after_action:mark_stable",
    "after_action:announce",
    "after_notify_sent",
]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'watchdog.db'}"
        return
    request.getfixturevalue("pg_url")  # skips locally, fails in CI, when PostgreSQL is down
    with fresh_pg_database() as url:
        yield url


@pytest.mark.parametrize("point", BAD_POINTS)
def test_a_bad_deploy_killed_at_each_point_is_rolled_back_once(
    tmp_path: Path, database: str, point: str
) -> None:
    with world(tmp_path, database) as w:
        first = w.daemon(faults=f"{point}=kill")
        bad = w.deploy(first, "shop", "1.1.0-bad")
        w.wait_dead(first)
        again = w.daemon()
        final = w.settled(again, bad, {"rolled_back"})
        assert final["state"] == "rolled_back", (point, final["reasons"], final["transitions"])
        assert w.restores("shop") == 1, (point, w.apps["shop"].deploys)  # exactly one target call
        [rollback] = final["rollbacks"]
        assert rollback["to_version"] == "1.0.0"  # the newest verified stable artifact
        assert w.artifact_status("shop", "1.1.0-bad") == "bad"
        assert w.artifact_status("shop", "1.0.0") == "stable"
        sent = w.messages(bad)
        assert sent["failed"] == 1 and sent["rolled_back"] == 1, (point, sent)
        w.check_nothing_left()


@pytest.mark.parametrize("point", GOOD_POINTS)
def test_a_good_deploy_killed_at_each_point_passes_and_becomes_stable(
    tmp_path: Path, database: str, point: str
) -> None:
    with world(tmp_path, database) as w:
        first = w.daemon(faults=f"{point}=kill")
        good = w.deploy(first, "shop", "1.1.0")
        w.wait_dead(first)
        again = w.daemon()
        final = w.settled(again, good, {"passed"})
        assert final["state"] == "passed", (point, final["reasons"], final["transitions"])
        assert w.artifact_status("shop", "1.1.0") == "stable"
        assert w.restores("shop") == 0 and final["rollbacks"] == []
        sent = w.messages(good)
        assert sent["started"] == 1 and sent["passed"] == 1, (point, sent)
        w.check_nothing_left()
