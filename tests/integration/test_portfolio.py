"""Portfolio figures against a portfolio built by hand, on both databases: four loans of
3,000.00 disbursed on 1 March, seen on 5 July: one paid on time, one 34 days late, one
never paid (95 days), one written off in June."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from ledger.credit.loans import get_loan, schedule_of
from ledger.credit.losses import write_off
from ledger.portfolio.service import portfolio
from ledger.portfolio.tape import loan_tape
from tests.credit_support import build_credit_world

AS_OF = date(2026, 7, 5)


def ratio(numerator: int, denominator: int) -> str:
    return format(
        (Decimal(numerator) / denominator).quantize(Decimal("0.0001"), ROUND_HALF_EVEN), "f"
    )


@pytest.fixture
def book(database, clock):
    world = build_credit_world(database, clock)
    on_time, late, unpaid, lost = (world.loan(300_000, 12) for _ in range(4))
    schedule = world.run(lambda c: schedule_of(c, get_loan(c, on_time.id)))
    world.fund_wallet(on_time.borrower_account_id, 2_000_000, "W")
    for item in schedule[:4]:  # due 1 April, 1 May, 1 June, 1 July
        world.clock.set(datetime.combine(item.due_date, datetime.min.time(), tzinfo=UTC))
        amount = item.principal_minor + item.interest_minor
        world.repay(on_time.id, amount, f"A-{item.number}")
        if item.number <= 2:
            world.repay(late.id, amount, f"B-{item.number}")
        if item.number == 3:
            world.clock.set(datetime(2026, 6, 15, 12, tzinfo=UTC))
            world.run(
                lambda c: write_off(c, world.manager, lost.id, now=world.clock.now(), reason="x")
            )
    return world, schedule, (on_time, late, unpaid, lost)


def test_the_figures_of_a_hand_built_portfolio(book):
    world, schedule, (on_time, late, unpaid, _) = book
    principal = [item.principal_minor for item in schedule]
    outstanding = {
        on_time.id: 300_000 - sum(principal[:4]),
        late.id: 300_000 - sum(principal[:2]),
        unpaid.id: 300_000,
    }
    glp = sum(outstanding.values())
    figures = world.run(lambda c: portfolio(c, AS_OF, schemes=[world.scheme]))
    assert (figures["loans"], figures["active_loans"]) == (4, 3)
    assert figures["gross_loan_portfolio_minor"] == glp
    # More than 30 days late: the late loan (since 1 June: 34 days) and the unpaid one
    # (since 1 April: 95 days); more than 90: the unpaid one only.
    assert figures["par30"] == {
        "amount_minor": outstanding[late.id] + 300_000,
        "ratio": ratio(outstanding[late.id] + 300_000, glp),
    }
    assert figures["par90"] == {"amount_minor": 300_000, "ratio": ratio(300_000, glp)}
    buckets = {b["bucket"]: (b["loans"], b["outstanding_minor"]) for b in figures["delinquency"]}
    assert buckets["current"] == (1, outstanding[on_time.id])
    assert buckets["31-60"] == (1, outstanding[late.id])
    assert buckets["91-180"] == (1, 300_000)
    assert buckets["1-30"] == buckets["61-90"] == buckets["180+"] == (0, 0)
    assert figures["written_off_total_minor"] == 300_000
    assert figures["write_off_ratio"] == "0.2500"  # 3,000.00 of 12,000.00 disbursed
    # Capital: the two investors' 30,000.00 (the first-loss layer is not capital).
    assert figures["capital_minor"] == 3_000_000
    assert figures["fund_utilization"] == ratio(glp, 3_000_000)
    assert [(i["name"], i["share"]) for i in figures["investors"]] == [
        ("Dilshod (Moscow)", "0.6667"),
        ("Malika (Berlin)", "0.3333"),
    ]
    # July so far: the on-time loan's 1 July installment was repaid in the period.
    assert (
        figures["repaid_in_period_minor"]
        == schedule[3].principal_minor + schedule[3].interest_minor
    )
    assert figures["disbursed_in_period_minor"] == 0
    # The borrower's remittances (1,187.23 TJS on the 15th, April 2025 to February
    # 2026) within the 365 days to 5 July (from 6 July 2025): July to February, eight.
    assert figures["borrower_inflows"] == {
        "borrowers": 1,
        "total_minor": 8 * 118_723,
        "average_monthly_per_borrower_minor": 79_149,  # 949,784 / 12 = 79,148.67
    }
    (country,) = figures["breakdowns"]["country"]
    assert (country["key"], country["loans"], country["gross_loan_portfolio_minor"]) == (
        "TJ",
        3,
        glp,
    )


def test_the_loan_tape_has_each_loans_figures_as_of_the_date(book):
    world, schedule, (on_time, late, unpaid, lost) = book
    rows = {row.loan_id: row for row in world.run(lambda c: loan_tape(c, AS_OF))}
    assert (rows[on_time.id].status, rows[on_time.id].days_past_due) == ("active", 0)
    assert (rows[late.id].days_past_due, rows[late.id].bucket) == (34, "31-60")
    assert (rows[unpaid.id].days_past_due, rows[unpaid.id].bucket) == (95, "91-180")
    assert (rows[lost.id].status, rows[lost.id].written_off_minor) == ("written_off", 300_000)
    assert rows[lost.id].outstanding_principal_minor == 0
    assert rows[on_time.id].interest_paid_minor == sum(i.interest_minor for i in schedule[:4])
    # As of before the write-off, the lost loan was active and 75 days late.
    earlier = {row.loan_id: row for row in world.run(lambda c: loan_tape(c, date(2026, 6, 14)))}
    assert (earlier[lost.id].status, earlier[lost.id].days_past_due) == ("active", 74)
    # Before any loan was disbursed, the tape is empty.
    assert world.run(lambda c: loan_tape(c, date(2026, 2, 28))) == []
