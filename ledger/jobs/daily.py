"""The day's jobs, in the order they run for each business date, and catch-up.

* ``expiry``: remittance reservations and pending transactions past their expiry
  voided; quotes expired over a day ago and never used dropped;
* ``accrual``: each active loan's interest for the day into interest receivable and
  income (``ledger.credit.accruals``);
* ``delinquency``: days past due and bucket of every active loan
  (``ledger.credit.delinquency``);
* ``late_fees``: installments unpaid beyond their product's days charged once;
* ``loss_reserve``: the provision by bucket, posted as an adjustment
  (``ledger.credit.provisioning``);
* ``platform_fees``: on a month's last date, partners' fees on their month's volume;
* ``sealing``: the journal's hash chain extended over every transaction not yet sealed;
* ``snapshot``: each scheme's portfolio figures stored (``ledger.portfolio.service``).

Each job for each date runs once (``ledger.jobs.runs``). A date's jobs run in order and
stop at the first failure, and dates run in order: the next attempt carries on where the
failure stopped, so nothing is done out of order or twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from ledger.config import Settings
from ledger.credit.accruals import accrue_interest
from ledger.credit.delinquency import charge_due_late_fees, update_delinquency
from ledger.credit.provisioning import provision
from ledger.db import Database
from ledger.jobs.runs import Job, JobContext, RunOutcome, job_runs, run_job
from ledger.journal.sealing import seal_batch
from ledger.journal.transactions import expire_holds
from ledger.limits import EXPIRY_BATCH_SIZE, SEAL_BATCH_SIZE
from ledger.portfolio.service import take_snapshots
from ledger.remittance.platform_fees import charge_platform_fees
from ledger.remittance.quotes import purge_expired_quotes
from ledger.remittance.remittances import REMITTANCE_EXPIRY_BATCH_SIZE, expire_remittances

log = logging.getLogger(__name__)

#: Unused quotes are kept this long after they expire (a partner may still ask).
QUOTE_RETENTION = timedelta(days=1)


def _cutoff(context: JobContext) -> datetime:
    """Expiry for a date covers what expired by its end (and no later than now)."""
    return min(context.effective_at, context.now)


def expiry(connection: Connection, context: JobContext) -> dict[str, Any]:
    cutoff = _cutoff(context)
    remittances = holds = 0
    while True:  # remittance reservations first: their rows change with their holds
        batch = expire_remittances(connection, now=cutoff)
        remittances += len(batch)
        if len(batch) < REMITTANCE_EXPIRY_BATCH_SIZE:
            break
    while True:
        voided = expire_holds(connection, cutoff)
        holds += len(voided)
        if len(voided) < EXPIRY_BATCH_SIZE:
            break
    quotes = purge_expired_quotes(connection, now=cutoff, older_than=QUOTE_RETENTION)
    return {"remittances_expired": remittances, "holds_voided": holds, "quotes_dropped": quotes}


def accrual(connection: Connection, context: JobContext) -> dict[str, Any]:
    return accrue_interest(
        connection, context.business_date, now=context.now, effective_at=context.effective_at
    )


def delinquency(connection: Connection, context: JobContext) -> dict[str, Any]:
    return update_delinquency(
        connection,
        context.business_date,
        context.effective_at,
        context.settings.delinquency_buckets,
    )


def late_fees(connection: Connection, context: JobContext) -> dict[str, Any]:
    return charge_due_late_fees(
        connection, context.business_date, context.effective_at, now=context.now
    )


def loss_reserve(connection: Connection, context: JobContext) -> dict[str, Any]:
    return provision(
        connection,
        context.business_date,
        now=context.now,
        effective_at=context.effective_at,
        edges=context.settings.delinquency_buckets,
    )


def platform_fees(connection: Connection, context: JobContext) -> dict[str, Any]:
    return charge_platform_fees(
        connection, context.business_date, now=context.now, effective_at=context.effective_at
    )


def sealing(connection: Connection, context: JobContext) -> dict[str, Any]:
    sealed = 0
    while True:
        count = seal_batch(connection, now=context.now)
        sealed += count
        if count < SEAL_BATCH_SIZE:
            break
    return {"sealed": sealed}


def snapshot(connection: Connection, context: JobContext) -> dict[str, Any]:
    return take_snapshots(
        connection,
        context.business_date,
        now=context.now,
        edges=context.settings.delinquency_buckets,
    )


DAILY_JOBS: tuple[tuple[str, Job], ...] = (
    ("expiry", expiry),
    ("accrual", accrual),
    ("delinquency", delinquency),
    ("late_fees", late_fees),
    ("loss_reserve", loss_reserve),
    ("platform_fees", platform_fees),
    ("sealing", sealing),
    ("snapshot", snapshot),
)
JOB_NAMES = tuple(name for name, _ in DAILY_JOBS)


def run_day(
    database: Database, day: date, *, now: datetime, settings: Settings | None = None
) -> list[RunOutcome]:
    """Every job for ``day`` in order, stopping at the first failure."""
    context = JobContext(day, now, settings or Settings())
    outcomes = []
    for name, job in DAILY_JOBS:
        outcome = run_job(database, name, job, context)
        outcomes.append(outcome)
        if outcome.status == "failed":
            break
    return outcomes


def last_completed_date(connection: Connection) -> date | None:
    """The latest date whose last job succeeded (so all of its jobs did)."""
    last_job = DAILY_JOBS[-1][0]
    return connection.execute(
        select(func.max(job_runs.c.business_date)).where(
            job_runs.c.job == last_job, job_runs.c.status == "succeeded"
        )
    ).scalar_one()


def due_dates(database: Database, *, today: date, start: date | None = None) -> list[date]:
    """The business dates to run: from the day after the last completed one (or
    ``start``, or yesterday on a fresh database) to yesterday; today has not ended."""
    last = database.run(last_completed_date)
    first = last + timedelta(days=1) if last is not None else (start or today - timedelta(1))
    return [first + timedelta(days=n) for n in range((today - first).days)]


def catch_up(
    database: Database,
    *,
    now: Callable[[], datetime],
    settings: Settings | None = None,
    until: date | None = None,
    progress: Callable[[date, list[RunOutcome]], None] | None = None,
) -> list[RunOutcome]:
    """Run every date due, in order, up to yesterday (or ``until``, inclusive); stop at
    the first failure (the next call retries it)."""
    settings = settings or Settings()
    today = (until + timedelta(days=1)) if until is not None else now().date()
    outcomes: list[RunOutcome] = []
    for day in due_dates(database, today=today, start=settings.scheduler_start_date):
        ran = run_day(database, day, now=now(), settings=settings)
        outcomes += ran
        if progress is not None:
            progress(day, ran)
        if ran and ran[-1].status == "failed":
            log.error("jobs for %s stopped at %s: %s", day, ran[-1].job, ran[-1].error)
            break
    return outcomes
