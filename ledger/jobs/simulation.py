"""Time travel: the day's jobs over a range of business dates, as if the scheduler had
run each morning (the business clock at 00:05 UTC the day after). The demo uses it to
build a year of history; ``before_day`` lets a caller make the day's activity first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from ledger.config import Settings
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.jobs.daily import run_day
from ledger.jobs.runs import RunOutcome


class SimulationStopped(LedgerError):
    code = "simulation_stopped"


def morning_after(day: date) -> datetime:
    """When the scheduler runs a date's jobs: five past midnight UTC the day after."""
    return datetime.combine(day + timedelta(days=1), time(0, 5), tzinfo=UTC)


def simulate(
    database: Database,
    start: date,
    end: date,
    *,
    settings: Settings | None = None,
    before_day: Callable[[date], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[RunOutcome]:
    """Every date from ``start`` to ``end`` inclusive; stops (raising) at a failure."""
    if end < start:
        raise SimulationStopped("the range ends before it starts", start=str(start))
    outcomes: list[RunOutcome] = []
    for index in range((end - start).days + 1):
        day = start + timedelta(days=index)
        if before_day is not None:
            before_day(day)
        ran = run_day(database, day, now=morning_after(day), settings=settings)
        outcomes += ran
        failed = [o for o in ran if o.status == "failed"]
        if failed:
            raise SimulationStopped(
                f"job {failed[0].job} failed for {day}: {failed[0].error}", date=str(day)
            )
        if progress is not None:
            progress(index + 1)
    return outcomes
