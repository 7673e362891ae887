"""Interest accrual, day by day (accrual accounting).

Each installment's interest (as the schedule computed it, by the product's day count)
is earned evenly over the calendar days of its period: through the end of day ``d`` an
installment from ``start`` to ``due`` has earned::

    interest x elapsed / days,   elapsed = clamp(d - start, 0, days), days = due - start

rounded **half up** to the minor unit. The rounding is on the running total, never on
the day's amount, so the daily amounts never drift: on the due date the installment has
accrued exactly its scheduled interest, to the cent. A loan's accrual target for a day
is the sum over its current schedule's installments.

The daily job (``accrue_interest``) brings each active loan's booked accrual to its
target: the difference, usually one day's interest, is a ``loan_accruals`` row; each
scheme gets one journal transaction for the day (debit interest receivable, credit
interest income: the sum of its loans' rows; a negative sum, after a prepayment
lowered interest already accrued, reverses). Repayments credit interest receivable,
so a loan's receivable is what it accrued less what it paid; paid ahead of accrual, it
is below zero (interest received in advance) until the days catch up. A closed loan
ends with its accrual equal to the interest it paid; a written-off one stops accruing
(``ledger.credit.losses`` reverses what was accrued and not paid).

Set-based: one query reads every active loan's figures for the day, one statement
inserts the rows, one updates the loans, whatever the portfolio's size.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select, update

from ledger.clock import FixedClock
from ledger.credit.loans import installments_table, loans
from ledger.credit.models import LoanAccrual
from ledger.credit.schemes import get_scheme
from ledger.journal import TransactionSpec, credit, debit, post_transaction

accruals = LoanAccrual.__table__


def accrued_through(interest_minor: int, period_start: date, due_date: date, day: date) -> int:
    """What an installment has earned by the end of ``day`` (pure; see the module)."""
    days = (due_date - period_start).days
    if days <= 0 or day >= due_date:
        return interest_minor
    elapsed = max(0, (day - period_start).days)
    return (interest_minor * elapsed * 2 + days) // (2 * days)


def accrual_target(installments: Iterable[tuple[date, date, int]], day: date) -> int:
    """A loan's interest earned by the end of ``day``: ``(period_start, due_date,
    interest_minor)`` of each installment of its schedule."""
    return sum(accrued_through(interest, start, due, day) for start, due, interest in installments)


def _due_so_far(day: date) -> Any:
    """Per active loan: its booked accrual, the interest of installments already due,
    and (joined below) the running installment."""
    items = installments_table
    return (
        select(
            loans.c.id.label("loan_id"),
            loans.c.scheme_id,
            loans.c.currency,
            loans.c.accrued_interest_minor.label("booked"),
            func.coalesce(
                func.sum(case((items.c.due_date <= day, items.c.interest_minor), else_=0)), 0
            ).label("due_interest"),
        )
        .select_from(loans)
        .join(
            items,
            and_(items.c.loan_id == loans.c.id, items.c.version == loans.c.schedule_version),
        )
        .where(loans.c.status == "active", items.c.period_start < day)
        .group_by(loans.c.id, loans.c.scheme_id, loans.c.currency, loans.c.accrued_interest_minor)
    )


def accrual_deltas(connection: Connection, day: date) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """``(loan, scheme, amount)`` for every loan whose booked accrual is not its target
    at the end of ``day``: active loans by their schedule, closed ones by the interest
    they paid."""
    items = installments_table
    running = {
        row.loan_id: accrued_through(row.interest_minor, row.period_start, row.due_date, day)
        for row in connection.execute(
            select(items.c.loan_id, items.c.interest_minor, items.c.period_start, items.c.due_date)
            .select_from(items)
            .join(
                loans,
                and_(items.c.loan_id == loans.c.id, items.c.version == loans.c.schedule_version),
            )
            .where(
                loans.c.status == "active",
                items.c.period_start < day,
                items.c.due_date > day,
            )
        )
    }
    deltas = []
    for row in connection.execute(_due_so_far(day)):
        target = int(row.due_interest) + running.get(row.loan_id, 0)
        if target != row.booked:
            deltas.append((row.loan_id, row.scheme_id, target - row.booked))
    closed = connection.execute(
        select(
            loans.c.id,
            loans.c.scheme_id,
            loans.c.accrued_interest_minor,
            loans.c.interest_paid_minor,
        ).where(
            loans.c.status == "closed",
            loans.c.accrued_interest_minor != loans.c.interest_paid_minor,
        )
    )
    deltas += [
        (row.id, row.scheme_id, row.interest_paid_minor - row.accrued_interest_minor)
        for row in closed
    ]
    return deltas


def accrue_interest(
    connection: Connection, day: date, *, now: datetime, effective_at: datetime
) -> dict[str, int]:
    """The accrual job for business date ``day`` (see the module docstring)."""
    deltas = accrual_deltas(connection, day)
    if not deltas:
        return {"loans": 0, "transactions": 0}
    connection.execute(
        insert(accruals),
        [
            {
                "loan_id": loan_id,
                "business_date": day,
                "scheme_id": scheme_id,
                "amount_minor": amount,
            }
            for loan_id, scheme_id, amount in deltas
        ],
    )
    connection.execute(
        update(loans)
        .where(loans.c.id == accruals.c.loan_id, accruals.c.business_date == day)
        .values(accrued_interest_minor=loans.c.accrued_interest_minor + accruals.c.amount_minor)
    )
    by_scheme: dict[uuid.UUID, int] = defaultdict(int)
    for _, scheme_id, amount in deltas:
        by_scheme[scheme_id] += amount
    posted = 0
    for scheme_id, total in sorted(by_scheme.items()):
        if total == 0:
            continue
        posted += 1
        scheme = get_scheme(connection, scheme_id)
        receivable, income = (
            scheme.account("interest_receivable"),
            scheme.account("interest_income"),
        )
        amount = abs(total)
        legs = (
            (debit(receivable, amount, scheme.currency), credit(income, amount, scheme.currency))
            if total > 0
            else (
                debit(income, amount, scheme.currency),
                credit(receivable, amount, scheme.currency),
            )
        )
        transaction = post_transaction(
            connection,
            TransactionSpec(
                postings=legs,
                description=f"Interest accrued on {day.isoformat()}",
                effective_at=effective_at,
                metadata={
                    "credit": {"event": "loan.interest.accrued", "business_date": day.isoformat()}
                },
                idempotency_key=f"accrual:{scheme_id}:{day.isoformat()}",
                client_id=scheme.client_id,
            ),
            clock=FixedClock(now),
        )
        connection.execute(
            update(accruals)
            .where(accruals.c.scheme_id == scheme_id, accruals.c.business_date == day)
            .values(transaction_id=transaction.id)
        )
    return {"loans": len(deltas), "transactions": posted}
