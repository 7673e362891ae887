"""Database plumbing: the declarative Base, column types, engines, the unit of work.

* No engine exists at import time: :func:`create_database` builds one from a URL.
* SQLite is a single writer. Every transaction starts with ``BEGIN IMMEDIATE`` so
  two writers never both read a balance and then race to upgrade their lock;
  the second waits (``busy_timeout``) instead of failing half-way.
* PostgreSQL runs at READ COMMITTED; correctness comes from row locks taken in a
  deterministic order (see ``ledger.journal.engine``), not from SERIALIZABLE.
* :meth:`Database.run` is the unit of work: one database transaction per call,
  committed only if the work returns, rolled back on any exception, and retried
  (a bounded number of times) only for deadlocks, serialization failures, a busy
  SQLite file, a connection the server dropped, and unique-key races that the
  work resolves on a second look (two requests with the same idempotency key).
* The work gets a SQLAlchemy Core ``Connection``: the journal speaks Core (the
  models describe tables; nothing relies on ORM identity or lazy loading), and
  the posting path is CPU-bound, so it does not pay for an ORM session.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    String,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from ledger.config import Settings, ensure_sqlite_directory, normalize_database_url
from ledger.errors import ConcurrencyExhausted
from ledger.limits import RETRY_ATTEMPTS_MAX, RETRY_BACKOFF_SECONDS

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: 64-bit integer keys; on SQLite an INTEGER PRIMARY KEY so it aliases the rowid
#: and autoincrements.
BigIntegerKey = BigInteger().with_variant(Integer(), "sqlite")

#: JSON objects; JSONB on PostgreSQL (indexable, normalised), JSON text elsewhere.
JSONObject = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every database.

    SQLite has no time zones, so values are stored as naive UTC there and made
    aware again when read. Naive input is refused: its zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal (a rate, a cost figure) stored as its plain text.

    Neither database's numeric type is safe on both: SQLite hands NUMERIC back
    as a float. Text keeps every digit the domain computed; nothing here rounds.
    Only finite ``Decimal`` values are accepted (a float is a bug at the caller).
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"DecimalText takes a finite Decimal, not {value!r}")
        return format(value, "f")

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


@dataclass(frozen=True)
class RaceConstraint:
    """A constraint whose violation means "someone else changed this meanwhile".

    Unique keys (two requests with one idempotency key) and the checks that an
    optimistic write relies on (a balance floor, an account still open).
    """

    name: str
    table: str = ""
    columns: tuple[str, ...] = ()

    def matches(self, error: IntegrityError) -> bool:
        diag = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
        if diag is not None:
            return bool(diag == self.name)
        message = str(error.orig)
        if self.columns:  # SQLite names a unique key by its columns
            columns = ", ".join(f"{self.table}.{column}" for column in self.columns)
            return f"UNIQUE constraint failed: {columns}" in message
        return f"CHECK constraint failed: {self.name}" in message


_race_constraints: list[RaceConstraint] = []

#: ``connection.info`` key holding the unit of work's attempt number (1, 2, ...):
#: work that can run optimistically does so on the first attempt only.
ATTEMPT_KEY = "ledger.attempt"


def attempt_of(connection: Connection) -> int:
    return int(connection.info.get(ATTEMPT_KEY, 1))


def register_race_constraint(constraint: RaceConstraint) -> None:
    """Declare a unique constraint whose violation is retried, not reported.

    The work is re-run in a fresh transaction, where it sees the committed row
    that won the race and answers as it would have sequentially.
    """
    if constraint not in _race_constraints:
        _race_constraints.append(constraint)


# Serialization failure, deadlock; and a 64-bit overflow, which the code checks
# before writing: the database meeting it means the code read a stale balance.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "22003"})


def is_transient(error: BaseException) -> bool:
    """True for failures that a fresh attempt of the same work can get past."""
    if isinstance(error, IntegrityError):
        return any(constraint.matches(error) for constraint in _race_constraints)
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:  # the server went away; a new connection may work
            return True
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate in _TRANSIENT_SQLSTATES:
            return True
        if isinstance(error, OperationalError) and "database is locked" in str(error.orig):
            return True
    return False


class Database:
    """An engine and the unit-of-work runner."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def run(self, work: Callable[[Connection], T], *, attempts: int = RETRY_ATTEMPTS_MAX) -> T:
        """Run ``work(connection)`` in one database transaction and commit it.

        Retries transient failures up to ``attempts`` times with jittered
        exponential back-off; then raises ConcurrencyExhausted. Everything else
        (domain errors included) rolls back and propagates unchanged.
        """
        for attempt in range(1, attempts + 1):
            try:
                with self.engine.begin() as connection:
                    connection.info[ATTEMPT_KEY] = attempt
                    result = work(connection)
                return result
            except DBAPIError as error:
                if not is_transient(error):
                    raise
                if attempt == attempts:
                    raise ConcurrencyExhausted(
                        "the database kept reporting conflicting updates; retry later",
                        attempts=attempts,
                    ) from error
                log.debug("transient database conflict, attempt %d: %s", attempt, error.orig)
                delay = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
        raise AssertionError("unreachable")  # pragma: no cover

    def dispose(self) -> None:
        self.engine.dispose()


def refresh_statistics(connection: Connection, tables: tuple[str, ...]) -> None:
    """ANALYZE ``tables`` on PostgreSQL (nothing elsewhere), for bulk loads.

    A table that grows from empty while autovacuum is off or behind keeps the
    statistics of an empty table, and plans chosen on them (a sequential scan where an
    index lookup was meant; prepared statements keep such a plan) make each chunk of a
    bulk load slower than the last. ANALYZE also invalidates those cached plans.
    """
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        assert table.isidentifier(), table  # names from code, never from input
        connection.exec_driver_sql(f"ANALYZE {table}")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of the
        # driver's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed ledger transaction survives power loss, not only a crash.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_database(url: str | None = None, settings: Settings | None = None) -> Database:
    """Build a Database for ``url`` (or the configured DATABASE_URL)."""
    settings = settings or Settings.from_environment()
    url = normalize_database_url(url or settings.database_url)
    if url.startswith("sqlite"):
        ensure_sqlite_directory(url)
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
    else:
        # No pre-ping: it costs a round trip per unit of work. A connection the
        # server dropped fails its first statement and the unit of work is retried.
        engine = create_engine(
            url,
            pool_size=settings.pool_size,
            max_overflow=settings.pool_max_overflow,
        )
    return Database(engine)
