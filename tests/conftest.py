"""Shared fixtures: real databases, schema made by Alembic, invariants after each test.

* SQLite always: one template file migrated per run, copied for every test.
* PostgreSQL whenever TEST_DATABASE_URL names a server (any database on it): a
  throwaway database is created for the run, migrated once, emptied between
  tests, and dropped at the end.
* REQUIRE_POSTGRES=1 (set by .ci/run) makes a missing or unreachable
  PostgreSQL an error, and the run fails unless PostgreSQL tests passed.
* After every test that used a database, the journal's invariants must hold
  (trial balance zero, stored balances equal to sums of postings, ...). Tests
  that corrupt the database on purpose carry the ``tampers`` marker.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import URL

import ledger.models  # noqa: F401  (every table on Base.metadata, for emptying)
from ledger.clock import FixedClock
from ledger.config import normalize_database_url
from ledger.db import Base, Database, create_database
from ledger.journal import check_invariants
from ledger.journal.models import GENESIS_HASH
from ledger.migrations import upgrade

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
_postgres_passed = 0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tampers: corrupts the database on purpose")
    if REQUIRE_POSTGRES and not os.environ.get("TEST_DATABASE_URL"):
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _postgres_passed
    if report.when == "call" and report.passed and "postgresql" in report.keywords:
        _postgres_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_POSTGRES and exitstatus == 0 and _postgres_passed == 0:
        session.exitstatus = 1
        print("\nREQUIRE_POSTGRES=1 but no PostgreSQL test passed", flush=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(f"PostgreSQL tests passed: {_postgres_passed}")


# --------------------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ledger.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


# ----------------------------------------------------------------------- PostgreSQL


def _admin_url(url: URL) -> URL:
    return url.set(database=url.database or "postgres")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    server_url = make_url(normalize_database_url(server))
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            # A throwaway database needs no durability: commits return before the
            # WAL reaches the disk (isolation and locking are unchanged).
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except Exception as error:
        if REQUIRE_POSTGRES:
            raise
        pytest.skip(f"PostgreSQL at {server_url.render_as_string()} unreachable: {error}")
    url = server_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def empty_postgres(database: Database) -> None:
    """Remove every row between tests, and restart the sequences.

    The journal refuses DELETE and TRUNCATE by trigger; replica mode switches
    triggers off for this session only (tests run as a superuser). Only the test
    harness does this. DELETE rather than TRUNCATE: on tables this small it takes
    a few milliseconds where TRUNCATE takes tens, once per test.
    """
    with database.engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        sequences = connection.execute(
            text(
                "SELECT sequence_name FROM information_schema.sequences "
                "WHERE sequence_schema = current_schema()"
            )
        ).scalars()
        for sequence in list(sequences):
            connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        connection.execute(
            text("INSERT INTO journal_seal_head (id, sequence, hash) VALUES (1, 0, :genesis)"),
            {"genesis": GENESIS_HASH},
        )


# ------------------------------------------------------------------------- fixtures

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous = OFF")
    cursor.close()


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if kind == "sqlite":
        path = tmp_path / "ledger.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        database = create_database(f"sqlite:///{path}")
        # Runs after the app's own connect hook (synchronous = FULL): a test file
        # needs no durability, and an fsync per commit would dominate the suite.
        event.listen(database.engine, "connect", _no_fsync)
        return database
    database = create_database(request.getfixturevalue("postgres_url"))
    empty_postgres(database)
    return database


def _checked(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    db = _open(kind, request, tmp_path)
    yield db
    if request.node.get_closest_marker("tampers") is None:
        problems = db.run(check_invariants)
        assert problems == [], problems
    db.dispose()


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    yield from _checked(request.param, request, tmp_path)


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty PostgreSQL database (for PostgreSQL-only behaviour)."""
    yield from _checked("postgresql", request, tmp_path)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
