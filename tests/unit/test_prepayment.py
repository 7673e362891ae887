"""Rebuilding a schedule after a principal prepayment (pure): the loan keeps its due
dates and its remaining grace, and interest that grace deferred is still billed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.credit.allocation import ScheduledInstallment, allocate, standing
from ledger.credit.repayments import rebuilt_future
from ledger.credit.schedule import generate
from ledger.credit.terms import ALLOCATION_ORDERS
from tests.credit_support import TERMS

ORDER = ALLOCATION_ORDERS["penalties_fees_interest_principal"]


def _schedule(terms, principal, count, disbursed):
    built = generate(terms.schedule, principal, count, disbursed)
    rows = [
        ScheduledInstallment(
            i.number, i.period_start, i.due_date, i.principal_minor, i.interest_minor, i.fee_minor
        )
        for i in built.installments
    ]
    return built, rows


def _prepay(terms, principal, count, disbursed, as_of, extra):
    built, rows = _schedule(terms, principal, count, disbursed)
    position = standing(principal, rows, [], [], as_of=as_of)
    _allocations, left = allocate(position, position.due_now_minor + extra, ORDER)
    return built, position, left, rebuilt_future(terms, position, left)


def test_a_prepayment_keeps_the_loans_due_dates_at_month_ends():
    built, _position, left, future = _prepay(
        TERMS, 300_000, 6, date(2025, 12, 31), date(2026, 1, 5), 100_000
    )
    original = [i.due_date for i in built.installments]
    assert original[:3] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert left == 100_000
    # Installment 1 is due now; 2..6 are rebuilt on 31 March, 30 April, ... not the 28th.
    assert [i.due_date for i in future] == original[1 : 1 + len(future)]
    assert future[0].period_start == original[0]


def test_a_prepayment_during_grace_on_principal_lowers_the_installments():
    terms = replace(
        TERMS,
        prepayment="reduce_installments",
        schedule=replace(TERMS.schedule, grace_on_principal=6),
    )
    built, _position, _left, future = _prepay(
        terms, 300_000, 12, date(2026, 1, 10), date(2026, 1, 15), 1_000
    )
    before = {i.number: i.total_minor for i in built.installments}
    # Installments 2..6 stay interest-only (the grace is kept), and lower.
    assert [i.principal_minor for i in future[:5]] == [0] * 5
    assert all(i.total_minor <= before[i.number] for i in future[:-1])
    assert sum(i.principal_minor for i in future) == 300_000 - 1_000


def test_a_prepayment_during_grace_on_interest_still_bills_the_deferred_interest():
    terms = replace(
        TERMS,
        prepayment="reduce_installments",
        schedule=replace(TERMS.schedule, grace_on_interest=3),
    )
    built, _position, _left, future = _prepay(
        terms, 300_000, 12, date(2026, 1, 10), date(2026, 1, 15), 1
    )
    original_future = sum(i.interest_minor for i in built.installments if i.number > 1)
    rebuilt = sum(i.interest_minor for i in future)
    # One minor unit prepaid saves at most a few units of interest; it does not lose
    # the month of interest installment 1 deferred (6,000.00 x 24% / 12 = 60.00).
    assert original_future - 12 <= rebuilt <= original_future
    assert [i.interest_minor for i in future[:2]] == [0, 0]  # 2 and 3: still in grace
    assert future[2].interest_minor >= 3 * 6_000 - 12  # 4 bills the three deferred months


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(2, 24),
    principal=st.integers(10_000, 5_000_000),
    grace_principal=st.integers(0, 3),
    grace_interest=st.integers(0, 3),
    day=st.integers(0, 400),
    extra=st.integers(1, 5_000_000),
    prepayment=st.sampled_from(["reduce_term", "reduce_installments"]),
    method=st.sampled_from(["declining_balance", "flat"]),
)
def test_a_rebuilt_schedule_repays_what_is_left_on_the_loans_own_dates(
    count, principal, grace_principal, grace_interest, day, extra, prepayment, method
):
    grace_principal = min(grace_principal, count - 1)
    grace_interest = min(grace_interest, count - 1)
    terms = replace(
        TERMS,
        prepayment=prepayment,
        schedule=replace(
            TERMS.schedule,
            interest_method=method,
            grace_on_principal=grace_principal,
            grace_on_interest=grace_interest,
        ),
    )
    disbursed = date(2026, 1, 31)
    built, rows = _schedule(terms, principal, count, disbursed)
    as_of = disbursed + timedelta(days=day)
    position = standing(principal, rows, [], [], as_of=as_of)
    _, left = allocate(position, position.due_now_minor + extra, ORDER)
    future = rebuilt_future(terms, position, left)
    last = position.due_now()[-1].number
    after = [i for i in built.installments if i.number > last]
    owed = sum(i.principal_minor for i in after) - left
    if owed <= 0 or not after:
        assert future == []
        return
    assert sum(i.principal_minor for i in future) == owed
    assert [i.due_date for i in future] == [i.due_date for i in after][: len(future)]
    assert [i.number for i in future] == list(range(last + 1, last + 1 + len(future)))
    assert all(i.principal_minor >= 0 and i.interest_minor >= 0 for i in future)
    # Less principal never costs more interest than the schedule it replaces (plus a
    # minor unit of rounding per installment).
    assert sum(i.interest_minor for i in future) <= sum(i.interest_minor for i in after) + len(
        future
    )
