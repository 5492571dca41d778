"""`watchdog db upgrade | current | downgrade` as a subprocess, on a temporary SQLite file and on PostgreSQL.

The PostgreSQL run uses a fresh database; a failing URL must not print its password.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.store.conftest import fresh_pg_database
from watchdog.store import migrate
from watchdog.store.schema import metadata

TABLES = {t.name for t in metadata.sorted_tables}


def watchdog(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "watchdog", "db", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_current_downgrade_on_sqlite_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "data" / "wd.db"
    env = {"WATCHDOG_DATABASE_URL": f"sqlite:///{path}"}
    up = watchdog("upgrade", cwd=tmp_path, env=env)
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"sqlite:///{path}: {migrate.head()}"
    assert tables(f"sqlite:///{path}") == TABLES | {"alembic_version"}
    current = watchdog("current", cwd=tmp_path, env=env)
    assert (current.returncode, current.stdout.strip()) == (0, f"sqlite:///{path}: {migrate.head()}")
    bare = watchdog("downgrade", cwd=tmp_path, env=env)  # no revision: refused, nothing dropped
    assert bare.returncode == 2 and "revision" in bare.stderr
    assert tables(f"sqlite:///{path}") == TABLES | {"alembic_version"}
    down = watchdog("downgrade", "base", cwd=tmp_path, env=env)
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip().endswith(": base (empty)")
    assert tables(f"sqlite:///{path}") == {"alembic_version"}


def test_default_url_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    up = watchdog("upgrade", cwd=tmp_path, env={"WATCHDOG_DATA_DIR": str(tmp_path / "d")})
    assert up.returncode == 0, up.stderr
    assert (tmp_path / "d" / "watchdog.db").exists()


def test_upgrade_on_postgres_with_url_flag(tmp_path: Path, pg_url: str) -> None:
    with fresh_pg_database(pg_url) as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")  # the common spelling is accepted
        up = watchdog("upgrade", "--url", plain, cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip().endswith(f": {migrate.head()}")
        assert tables(url) == TABLES | {"alembic_version"}
        down = watchdog("downgrade", "base", "--url", plain, cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        assert tables(url) == {"alembic_version"}


def test_failure_exits_non_zero_without_the_password(tmp_path: Path, pg_url: str) -> None:
    bad = "postgresql://postgres:pw-Secret-77@127.0.0.1:5432/wd_does_not_exist"
    result = watchdog("upgrade", "--url", bad, cwd=tmp_path)
    assert result.returncode == 1
    assert "wd_does_not_exist" in result.stderr
    assert "pw-Secret-77" not in result.stdout + result.stderr
