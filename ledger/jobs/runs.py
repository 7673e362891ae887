"""Running one job for one business date, exactly once.

The job's work and its run record (``job_runs``, unique per job and date) commit in one
database transaction, so:

* **Idempotent per date**: a second run finds the record ``succeeded`` and does nothing.
* **Retry after failure**: a failed attempt rolls its work back entirely and then
  records ``failed`` (the error, the attempt count) in a transaction of its own; the
  next attempt does the whole work and turns the record ``succeeded``.
* **Several instances**: on PostgreSQL the transaction first takes a transaction-scoped
  advisory lock on (job, date), so a second scheduler waits for the first and then
  finds its record; on SQLite every write transaction is ``BEGIN IMMEDIATE`` (one
  writer at a time). Should both still insert a record, the unique constraint refuses
  the second, whose unit of work is retried, finds the first's, and skips.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, text, update

from ledger.clock import end_of_day
from ledger.config import Settings
from ledger.db import Database, RaceConstraint, register_race_constraint
from ledger.ids import uuid7
from ledger.jobs.models import JobRun

log = logging.getLogger(__name__)

job_runs = JobRun.__table__

register_race_constraint(
    RaceConstraint("uq_job_runs_job_business_date", "job_runs", ("job", "business_date"))
)

#: The longest error text kept on a failed run.
ERROR_LENGTH_MAX = 2_000


@dataclass(frozen=True)
class JobContext:
    """What a job is given: the business date it is for, the record time, settings."""

    business_date: date
    now: datetime
    settings: Settings = field(default_factory=Settings)

    @property
    def effective_at(self) -> datetime:
        """The business time of what the job posts: the last instant of its date."""
        return end_of_day(self.business_date)


Job = Callable[[Connection, JobContext], dict[str, Any]]


@dataclass(frozen=True)
class RunOutcome:
    job: str
    business_date: date
    status: Literal["succeeded", "skipped", "failed"]
    result: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0


def advisory_key(job: str, day: date) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.sha256(f"ledger-job:{job}:{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _serialize(connection: Connection, job: str, day: date) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(job, day)}
        )


def _record(connection: Connection, job: str, day: date, *, lock: bool) -> Any:
    query = select(job_runs).where(job_runs.c.job == job, job_runs.c.business_date == day)
    return connection.execute(query.with_for_update() if lock else query).first()


def run_job(database: Database, name: str, job: Job, context: JobContext) -> RunOutcome:
    """Run ``job`` for ``context.business_date`` unless it already succeeded."""
    day = context.business_date
    started = time.perf_counter()

    def work(connection: Connection) -> RunOutcome:
        _serialize(connection, name, day)
        existing = _record(connection, name, day, lock=True)
        if existing is not None and existing.status == "succeeded":
            return RunOutcome(name, day, "skipped", existing.result)
        result = job(connection, context)
        values = {
            "status": "succeeded",
            "finished_at": context.now,
            "result": result,
            "error": None,
        }
        if existing is None:
            connection.execute(
                insert(job_runs).values(
                    id=uuid7(),
                    job=name,
                    business_date=day,
                    attempts=1,
                    started_at=context.now,
                    **values,
                )
            )
        else:
            connection.execute(
                update(job_runs)
                .where(job_runs.c.id == existing.id)
                .values(attempts=existing.attempts + 1, **values)
            )
        return RunOutcome(name, day, "succeeded", result, None, time.perf_counter() - started)

    try:
        return database.run(work)
    except Exception as error:
        message = f"{type(error).__name__}: {error}"[:ERROR_LENGTH_MAX]
        log.exception("job %s for %s failed", name, day)
        try:
            database.run(lambda c: _record_failure(c, name, day, context.now, message))
        except Exception:
            log.exception("could not record the failure of job %s for %s", name, day)
        return RunOutcome(name, day, "failed", None, message, time.perf_counter() - started)


def _record_failure(
    connection: Connection, name: str, day: date, now: datetime, message: str
) -> None:
    _serialize(connection, name, day)
    existing = _record(connection, name, day, lock=True)
    if existing is None:
        connection.execute(
            insert(job_runs).values(
                id=uuid7(),
                job=name,
                business_date=day,
                status="failed",
                attempts=1,
                started_at=now,
                finished_at=now,
                error=message,
            )
        )
    elif existing.status != "succeeded":  # a racing instance may have succeeded since
        connection.execute(
            update(job_runs)
            .where(job_runs.c.id == existing.id)
            .values(attempts=existing.attempts + 1, finished_at=now, error=message)
        )


def list_runs(
    connection: Connection, *, since: date | None = None, job: str | None = None
) -> list[Any]:
    query = select(job_runs)
    if since is not None:
        query = query.where(job_runs.c.business_date >= since)
    if job is not None:
        query = query.where(job_runs.c.job == job)
    return list(connection.execute(query.order_by(job_runs.c.business_date, job_runs.c.job)))
