"""The scheduler's jobs on both databases, with the business clock moved day by day
through loans' lives: accruals, due and overdue, late fees, buckets and provisions as
worked out by hand; each job once per date; retry after failure; catch-up; two
schedulers racing on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.credit.accruals import accruals
from ledger.credit.loans import get_loan
from ledger.credit.losses import write_off
from ledger.jobs.daily import JOB_NAMES, catch_up, last_completed_date, run_day
from ledger.jobs.runs import JobContext, job_runs, run_job
from ledger.jobs.scheduler import build_scheduler
from ledger.jobs.simulation import morning_after
from ledger.journal import get_account, get_account_by_code
from ledger.journal.models import Transaction
from ledger.journal.sealing import queued_count, verify_chain
from ledger.portfolio.service import get_snapshot, portfolio
from ledger.remittance.platform_fees import list_platform_fee_charges, set_platform_fee
from ledger.remittance.remittances import get_remittance
from tests.credit_support import assert_loan_matches_postings, build_credit_world
from tests.remittance_support import complete, reserve

START = date(2026, 3, 1)  # the credit world's clock: disbursement day


def run_through(world, last: date, first: date = START) -> None:
    day = first
    while day <= last:
        outcomes = run_day(world.remit.database, day, now=morning_after(day))
        assert [o.status for o in outcomes] == ["succeeded"] * len(JOB_NAMES), outcomes
        day += timedelta(days=1)


def posted(world, role: str) -> int:
    return world.run(lambda c: get_account(c, world.scheme.account(role))).balances.posted_minor


def loan_now(world, loan_id):
    return world.run(lambda c: get_loan(c, loan_id))


def transactions(world) -> int:
    table = Transaction.__table__
    return world.run(lambda c: c.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def world(database, clock):
    return build_credit_world(database, clock)


def test_an_on_time_loan_accrues_its_interest_to_the_cent_and_stays_current(world):
    loan = world.loan(300_000, 12)  # 3,000.00 at 24%: 60.00 interest in March (31 days)
    run_through(world, date(2026, 3, 15))
    # 14 of 31 days: 60.00 x 14 / 31 = 27.0967..., half up on the running total: 27.10.
    assert loan_now(world, loan.id).accrued_interest_minor == 2_710
    assert posted(world, "interest_receivable") == 2_710
    assert posted(world, "interest_income") == 2_710
    # A provision of 1% on the current portfolio: 30.00.
    assert posted(world, "loss_reserve") == 3_000
    run_through(world, date(2026, 3, 31), date(2026, 3, 16))
    world.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    first = world.standing(loan.id).installments[0]
    world.repay(loan.id, first.due["principal"] + first.due["interest"], "APR")
    run_through(world, date(2026, 4, 1), date(2026, 4, 1))
    after = loan_now(world, loan.id)
    # On the due date the accrual is the schedule's interest exactly, and it was paid.
    assert after.accrued_interest_minor == first.due["interest"] == 6_000
    assert posted(world, "interest_receivable") == 0
    assert (after.days_past_due, after.delinquency_bucket) == (0, "current")
    # 1% of 3,000.00 - 223.68 = 2,776.32, half-even to 27.76.
    assert posted(world, "loss_reserve") == 2_776
    assert_loan_matches_postings(world.remit.database, loan.id, as_of=date(2026, 4, 1))


def test_a_late_loan_ages_through_its_buckets_and_is_charged_once(world):
    loan = world.loan(300_000, 12)  # first installment due 1 April; nothing is paid
    run_through(world, date(2026, 4, 1))
    assert loan_now(world, loan.id).days_past_due == 0  # due today is not overdue yet
    run_through(world, date(2026, 4, 2), date(2026, 4, 2))
    assert (
        loan_now(world, loan.id).days_past_due,
        loan_now(world, loan.id).delinquency_bucket,
    ) == (
        1,
        "1-30",
    )
    # The product charges 50.00 once an installment is more than 7 days late.
    run_through(world, date(2026, 4, 8), date(2026, 4, 3))
    assert posted(world, "fees_receivable") == 0
    run_through(world, date(2026, 4, 9), date(2026, 4, 9))
    assert posted(world, "fees_receivable") == 5_000
    # 10% on 3,000.00 in 1-30.
    assert posted(world, "loss_reserve") == 30_000
    run_through(world, date(2026, 5, 2), date(2026, 4, 10))
    late = loan_now(world, loan.id)
    assert (late.days_past_due, late.delinquency_bucket) == (31, "31-60")
    assert posted(world, "fees_receivable") == 5_000  # the first, once
    assert posted(world, "loss_reserve") == 75_000  # 25% in 31-60
    # The second installment (due 1 May) is charged once it is 8 days late.
    run_through(world, date(2026, 5, 9), date(2026, 5, 3))
    assert posted(world, "fees_receivable") == 10_000
    assert_loan_matches_postings(world.remit.database, loan.id, as_of=date(2026, 5, 9))


def test_a_written_off_loan_stops_accruing_and_its_reserve_is_released(world):
    loan = world.loan(300_000, 12)
    run_through(world, date(2026, 3, 20))
    accrued = loan_now(world, loan.id).accrued_interest_minor
    assert accrued > 0 and posted(world, "interest_income") == accrued
    world.clock.set(datetime(2026, 3, 21, 9, 0, tzinfo=UTC))
    world.run(lambda c: write_off(c, world.manager, loan.id, now=world.clock.now(), reason="gone"))
    # The accrued, unpaid interest left income again.
    assert posted(world, "interest_income") == 0
    assert posted(world, "interest_receivable") == 0
    run_through(world, date(2026, 3, 25), date(2026, 3, 21))
    assert loan_now(world, loan.id).accrued_interest_minor == 0
    assert posted(world, "loss_reserve") == 0
    assert posted(world, "provision_expense") == 0  # provisions net to nothing
    assert_loan_matches_postings(world.remit.database, loan.id, as_of=date(2026, 3, 25))


def test_running_a_date_again_changes_nothing(world):
    world.loan(300_000, 12)
    run_through(world, date(2026, 3, 3))
    before = transactions(world)
    booked = world.run(lambda c: c.execute(select(func.count()).select_from(accruals)).scalar_one())
    again = run_day(world.remit.database, date(2026, 3, 3), now=morning_after(date(2026, 3, 3)))
    assert {o.status for o in again} == {"skipped"}
    assert transactions(world) == before
    assert (
        world.run(lambda c: c.execute(select(func.count()).select_from(accruals)).scalar_one())
        == booked
    )


def test_a_failed_run_keeps_nothing_and_its_retry_does_the_work_once(world):
    loan = world.loan(300_000, 12)
    database = world.remit.database
    context = JobContext(date(2026, 3, 2), morning_after(date(2026, 3, 2)))

    def failing(connection, ctx):
        from ledger.jobs.daily import accrual

        accrual(connection, ctx)  # does the work, then fails before the end
        raise RuntimeError("the disk filled up")

    failed = run_job(database, "accrual", failing, context)
    assert (failed.status, failed.error) == ("failed", "RuntimeError: the disk filled up")
    assert loan_now(world, loan.id).accrued_interest_minor == 0
    from ledger.jobs.daily import accrual

    retried = run_job(database, "accrual", accrual, context)
    assert retried.status == "succeeded"
    assert loan_now(world, loan.id).accrued_interest_minor == 194  # 60.00 / 31, half up
    (record,) = world.run(
        lambda c: c.execute(select(job_runs).where(job_runs.c.job == "accrual")).all()
    )
    assert (record.status, record.attempts, record.error) == ("succeeded", 2, None)


def test_catch_up_runs_every_missed_date_in_order(world):
    world.loan(300_000, 12)
    database = world.remit.database
    settings = Settings(scheduler_start_date=date(2026, 3, 1))
    ran = catch_up(database, now=lambda: morning_after(date(2026, 3, 4)), settings=settings)
    assert [o.business_date for o in ran if o.job == "accrual"] == [
        date(2026, 3, d) for d in (1, 2, 3, 4)
    ]
    # After downtime, the next look carries on from the day after the last one done.
    later = catch_up(database, now=lambda: morning_after(date(2026, 3, 7)), settings=settings)
    assert sorted({o.business_date for o in later}) == [date(2026, 3, d) for d in (5, 6, 7)]
    assert catch_up(database, now=lambda: morning_after(date(2026, 3, 7)), settings=settings) == []


def test_two_schedulers_racing_run_each_job_and_date_once(postgres_database, clock):
    world = build_credit_world(postgres_database, clock)
    world.loan(300_000, 12)
    settings = Settings(scheduler_start_date=date(2026, 3, 1))
    before = transactions(world)
    barrier = threading.Barrier(2)
    outcomes: list = []

    def scheduler() -> None:
        barrier.wait()
        outcomes.extend(
            catch_up(
                postgres_database, now=lambda: morning_after(date(2026, 3, 10)), settings=settings
            )
        )

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = world.run(lambda c: c.execute(select(job_runs)).all())
    assert len(runs) == 10 * len(JOB_NAMES)
    assert {(r.status, r.attempts) for r in runs} == {("succeeded", 1)}
    done = [o for o in outcomes if o.status == "succeeded"]
    assert len(done) == 10 * len(JOB_NAMES)  # the rest were skipped by the other
    # One accrual and one provision transaction per day, none twice.
    # Accruals from 2 March (nothing is earned on the day of disbursement): 9; the
    # provision once (day 1; the portfolio does not change after).
    assert transactions(world) - before == 9 + 1


def test_the_expiry_job_voids_a_reservation_left_past_its_day(world):
    remittance = reserve(world.remit, world.remit.explicit("LEFT"))  # 1 March 09:00, 24 h
    run_through(world, date(2026, 3, 1))
    assert world.run(lambda c: get_remittance(c, world.remit.partner.id, remittance.id)).status == (
        "reserved"
    )
    run_through(world, date(2026, 3, 2), date(2026, 3, 2))  # expired 2 March 09:00
    found = world.run(lambda c: get_remittance(c, world.remit.partner.id, remittance.id))
    assert found.status == "expired"


def test_the_platform_fee_job_charges_a_months_volume_once(world):
    partner = world.remit.partner
    world.run(
        lambda c: set_platform_fee(
            c, partner, percent=Decimal("0.25"), starts_on=date(2026, 3, 1), now=world.clock.now()
        )
    )
    for reference in ("M-1", "M-2"):  # 10,000.00 RUB each, in March
        complete(world.remit, reserve(world.remit, world.remit.explicit(reference)).id)
    run_through(world, date(2026, 3, 30))
    assert world.run(lambda c: list_platform_fee_charges(c, partner.id)) == []
    run_through(world, date(2026, 3, 31), date(2026, 3, 31))
    (charge,) = world.run(lambda c: list_platform_fee_charges(c, partner.id))
    # 0.25% of 20,000.00 RUB: 50.00.
    assert (charge.month, charge.currency, charge.volume_minor, charge.fee_minor) == (
        date(2026, 3, 1),
        "RUB",
        2_000_000,
        5_000,
    )
    due = world.run(
        lambda c: get_account_by_code(c, f"liquidity:{partner.slug}:platform-fees-due:RUB")
    )
    assert due.balances.posted_minor == 5_000
    again = run_day(world.remit.database, date(2026, 3, 31), now=morning_after(date(2026, 3, 31)))
    assert {o.status for o in again} == {"skipped"}


def test_the_sealing_and_snapshot_jobs_leave_a_verified_chain_and_the_days_figures(world):
    world.loan(300_000, 12)
    run_through(world, date(2026, 3, 3))
    database = world.remit.database
    assert database.run(queued_count) == 0
    assert database.run(verify_chain).ok
    stored = world.run(lambda c: get_snapshot(c, world.scheme.id, date(2026, 3, 3)))
    live = world.run(lambda c: portfolio(c, date(2026, 3, 3), schemes=[world.scheme]))
    assert stored == live
    assert stored["gross_loan_portfolio_minor"] == 300_000


def test_the_apscheduler_looks_and_runs_the_days_due(world):
    database = world.remit.database
    settings = Settings(scheduler_interval_seconds=1, scheduler_start_date=date(2026, 3, 1))
    clock = FixedClock(morning_after(date(2026, 3, 2)))
    scheduler = build_scheduler(database, settings, clock=clock, background=True)
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if database.run(last_completed_date) == date(2026, 3, 2):
                break
            time.sleep(0.2)
    finally:
        scheduler.shutdown(wait=True)
    assert database.run(last_completed_date) == date(2026, 3, 2)
    runs = world.run(lambda c: c.execute(select(job_runs)).all())
    assert len(runs) == 2 * len(JOB_NAMES)
