"""The loan tape: one row per loan with its figures as of the end of a business day.

Everything is read as of that instant: repayments effective by then, accruals booked
for dates up to it, write-offs and closings that happened by then; loans disbursed
later are not on the tape. Days past due are ``ledger.credit.delinquency``'s. Each
borrower's remittance inflows are the completed remittances to them in the 365 days
up to the date; their **corridor** is the one most of that money came through.

A handful of aggregate queries, whatever the number of loans; the rows are plain
values for ``ledger.portfolio.figures`` and the CSV export.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from ledger.access.models import Principal
from ledger.clock import end_of_day
from ledger.credit.accruals import accruals
from ledger.credit.delinquency import bucket_of, overdue_since
from ledger.credit.loans import charges, loans, repayments
from ledger.credit.models import LoanProduct
from ledger.parties.models import Customer
from ledger.remittance.models import Remittance

customers = Customer.__table__
principals = Principal.__table__
products = LoanProduct.__table__
remittances = Remittance.__table__

#: Days of remittance history a borrower's inflows cover.
INFLOW_WINDOW_DAYS = 365


@dataclass(frozen=True, slots=True)
class TapeRow:
    loan_id: uuid.UUID
    scheme_id: uuid.UUID
    partner: str
    product: str
    customer_id: uuid.UUID
    country: str
    currency: str
    disbursed_on: date
    status: str
    principal_minor: int
    principal_repaid_minor: int
    interest_paid_minor: int
    fees_paid_minor: int
    interest_accrued_minor: int
    written_off_minor: int
    outstanding_principal_minor: int
    days_past_due: int
    bucket: str
    repaid_in_period_minor: int
    income_in_period_minor: int
    corridor: str | None
    inflow_minor: int
    inflow_count: int

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def loan_tape(
    connection: Connection,
    as_of: date,
    *,
    period_start: date | None = None,
    scheme_ids: Sequence[uuid.UUID] | None = None,
    partner_id: uuid.UUID | None = None,
    edges: Sequence[int] = (30, 60, 90, 180),
) -> list[TapeRow]:
    """The tape as of the end of ``as_of``; ``period_start``: the first day of the
    period whose repayments and income the rows also carry (default: as_of's month)."""
    day_end = end_of_day(as_of)
    start = period_start or as_of.replace(day=1)
    period_begin = datetime.combine(start, time.min, tzinfo=UTC)
    chosen = loans.c.disbursed_at <= day_end
    if scheme_ids is not None:
        chosen = and_(chosen, loans.c.scheme_id.in_(list(scheme_ids)))
    if partner_id is not None:
        chosen = and_(chosen, loans.c.partner_id == partner_id)
    in_period = repayments.c.effective_at >= period_begin
    paid = (
        select(
            repayments.c.loan_id,
            func.sum(repayments.c.principal_minor).label("principal"),
            func.sum(repayments.c.interest_minor).label("interest"),
            func.sum(repayments.c.fee_minor + repayments.c.penalty_minor).label("fees"),
            func.sum(case((in_period, repayments.c.amount_minor), else_=0)).label("in_period"),
        )
        .where(repayments.c.source != "recovery", repayments.c.effective_at <= day_end)
        .group_by(repayments.c.loan_id)
        .subquery("paid")
    )
    accrued = (
        select(
            accruals.c.loan_id,
            func.sum(accruals.c.amount_minor).label("total"),
            func.sum(
                case((accruals.c.business_date >= start, accruals.c.amount_minor), else_=0)
            ).label("in_period"),
        )
        .where(accruals.c.business_date <= as_of)
        .group_by(accruals.c.loan_id)
        .subquery("accrued")
    )
    late_fees = (
        select(charges.c.loan_id, func.sum(charges.c.amount_minor).label("in_period"))
        .where(charges.c.charged_on >= start, charges.c.charged_on <= as_of)
        .group_by(charges.c.loan_id)
        .subquery("late_fees")
    )
    query = (
        select(
            loans.c.id,
            loans.c.scheme_id,
            principals.c.slug.label("partner"),
            products.c.name.label("product"),
            loans.c.customer_id,
            customers.c.country,
            loans.c.currency,
            loans.c.disbursed_at,
            loans.c.status,
            loans.c.closed_at,
            loans.c.principal_minor,
            loans.c.origination_fee_minor,
            loans.c.written_off_minor,
            func.coalesce(paid.c.principal, 0).label("principal_repaid"),
            func.coalesce(paid.c.interest, 0).label("interest_paid"),
            func.coalesce(paid.c.fees, 0).label("fees_paid"),
            func.coalesce(paid.c.in_period, 0).label("repaid_in_period"),
            func.coalesce(accrued.c.total, 0).label("accrued"),
            func.coalesce(accrued.c.in_period, 0).label("accrued_in_period"),
            func.coalesce(late_fees.c.in_period, 0).label("late_fees_in_period"),
        )
        .select_from(
            loans.join(principals, principals.c.id == loans.c.partner_id)
            .join(products, products.c.id == loans.c.product_id)
            .join(customers, customers.c.id == loans.c.customer_id)
            .outerjoin(paid, paid.c.loan_id == loans.c.id)
            .outerjoin(accrued, accrued.c.loan_id == loans.c.id)
            .outerjoin(late_fees, late_fees.c.loan_id == loans.c.id)
        )
        .where(chosen)
        .order_by(loans.c.disbursed_at, loans.c.id)
    )
    rows = connection.execute(query).all()
    overdue = overdue_since(connection, as_of, day_end, loan_filter=chosen)
    inflows = _inflows(connection, as_of, day_end, chosen)
    tape = []
    for row in rows:
        ended = row.closed_at is not None and row.closed_at <= day_end
        status = row.status if ended else "active"
        written_off = row.written_off_minor if status == "written_off" else 0
        outstanding = row.principal_minor - int(row.principal_repaid) if status == "active" else 0
        since = overdue.get(row.id) if status == "active" else None
        days = (as_of - since).days if since is not None else 0
        disbursed_on = row.disbursed_at.date()  # UTCDateTime: already UTC
        origination = row.origination_fee_minor if disbursed_on >= start else 0
        corridor, inflow, count = inflows.get((row.customer_id, row.currency), (None, 0, 0))
        tape.append(
            TapeRow(
                loan_id=row.id,
                scheme_id=row.scheme_id,
                partner=row.partner,
                product=row.product,
                customer_id=row.customer_id,
                country=row.country,
                currency=row.currency,
                disbursed_on=disbursed_on,
                status=status,
                principal_minor=row.principal_minor,
                principal_repaid_minor=int(row.principal_repaid),
                interest_paid_minor=int(row.interest_paid),
                fees_paid_minor=int(row.fees_paid),
                interest_accrued_minor=int(row.accrued),
                written_off_minor=written_off,
                outstanding_principal_minor=outstanding,
                days_past_due=days,
                bucket=bucket_of(days, edges),
                repaid_in_period_minor=int(row.repaid_in_period),
                income_in_period_minor=int(row.accrued_in_period)
                + int(row.late_fees_in_period)
                + origination,
                corridor=corridor,
                inflow_minor=inflow,
                inflow_count=count,
            )
        )
    return tape


def _inflows(
    connection: Connection, as_of: date, day_end: datetime, chosen: Any
) -> dict[tuple[uuid.UUID, str], tuple[str | None, int, int]]:
    """Per borrower on the tape and receive currency: (main corridor, inflow in the
    window, number of remittances)."""
    since = datetime.combine(as_of - timedelta(days=INFLOW_WINDOW_DAYS - 1), time.min, tzinfo=UTC)
    borrowers = select(loans.c.customer_id).where(chosen).distinct()
    rows = connection.execute(
        select(
            remittances.c.beneficiary_customer_id,
            remittances.c.receive_currency,
            remittances.c.corridor_code,
            func.sum(remittances.c.receive_minor),
            func.count(),
        )
        .where(
            remittances.c.status == "completed",
            remittances.c.effective_at >= since,
            remittances.c.effective_at <= day_end,
            remittances.c.beneficiary_customer_id.in_(borrowers),
        )
        .group_by(
            remittances.c.beneficiary_customer_id,
            remittances.c.receive_currency,
            remittances.c.corridor_code,
        )
        .order_by(remittances.c.corridor_code)
    )
    result: dict[tuple[uuid.UUID, str], tuple[str | None, int, int]] = {}
    best: dict[tuple[uuid.UUID, str], int] = {}
    for customer_id, currency, corridor, amount, count in rows:
        key = (customer_id, currency)
        main, total, number = result.get(key, (None, 0, 0))
        if int(amount) > best.get(key, -1):  # ties: the first corridor by code
            best[key], main = int(amount), corridor
        result[key] = (main, total + int(amount), number + int(count))
    return result
