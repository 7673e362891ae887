"""The scheduler: APScheduler 3 runs ``catch_up`` every SCHEDULER_INTERVAL_SECONDS.

Each look runs every business date that has ended and not been run, in order (after
downtime, all the missed ones); a date runs its jobs once however many schedulers
share the database (``ledger.jobs.runs``). ``max_instances=1`` and ``coalesce`` keep one
process from overlapping itself when a look takes longer than the interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ledger.clock import Clock, SystemClock
from ledger.config import Settings
from ledger.db import Database
from ledger.jobs.daily import catch_up

log = logging.getLogger(__name__)


def look(database: Database, settings: Settings, clock: Clock) -> int:
    """One look: run what is due; the number of job runs that did work."""
    outcomes = catch_up(database, now=clock.now, settings=settings)
    done = sum(1 for o in outcomes if o.status == "succeeded")
    if outcomes:
        log.info(
            "scheduler ran %d job(s) for %d date(s)",
            done,
            len({o.business_date for o in outcomes}),
        )
    return done


def build_scheduler(
    database: Database,
    settings: Settings,
    *,
    clock: Clock | None = None,
    background: bool = False,
    extra: Sequence[tuple[str, Callable[[], object], int]] = (),
) -> BaseScheduler:
    """The scheduler with the daily look, and ``extra`` jobs ``(id, function,
    seconds)`` that run on their own interval (the integrations' webhook delivery)."""
    scheduler: BaseScheduler = (BackgroundScheduler if background else BlockingScheduler)(
        timezone=UTC
    )
    scheduler.add_job(
        look,
        IntervalTrigger(seconds=settings.scheduler_interval_seconds, timezone=UTC),
        args=(database, settings, clock or SystemClock()),
        id="catch-up",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),  # look at once on start
    )
    for job_id, function, seconds in extra:
        scheduler.add_job(
            function,
            IntervalTrigger(seconds=seconds, timezone=UTC),
            id=job_id,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
    return scheduler
