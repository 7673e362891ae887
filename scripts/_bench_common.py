"""Helpers shared by the benchmarks (``scripts/bench_ledger.py``, ``scripts/bench_api.py``).

Both are run as scripts (``.venv/bin/python scripts/bench_*.py``), so this module is
imported from the scripts directory, not as part of a package.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import create_engine, make_url, text


@dataclass
class Result:
    scenario: str
    operations: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def result_of(
    scenario: str, operations: int, seconds: float, latencies: Sequence[float], errors: int
) -> Result:
    """A scenario's figures; ``latencies`` in seconds, sorted ascending."""
    return Result(
        scenario=scenario,
        operations=operations,
        seconds=round(seconds, 3),
        per_second=round(operations / seconds, 1),
        p50_ms=round(statistics.median(latencies) * 1_000, 2),
        p99_ms=round(latencies[int(len(latencies) * 0.99) - 1] * 1_000, 2),
        errors=errors,
    )


def throwaway_database(url: str, run: str) -> str:
    """A new database on the same PostgreSQL server; SQLite URLs are used as given."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    name = f"{parsed.database or 'ledger'}_bench_{run}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()
