"""Loans as recorded, and their standing on a day (read from the schedule, the charges
and the repayments' allocations; the arithmetic is ``ledger.credit.allocation``'s)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from ledger.credit.allocation import Allocation, ScheduledInstallment, Standing, standing
from ledger.credit.models import Loan, LoanCharge, LoanInstallment, Repayment
from ledger.errors import NotFound
from ledger.journal import AccountSpec
from ledger.journal.accounts import ensure_account

loans = Loan.__table__
installments_table = LoanInstallment.__table__
charges = LoanCharge.__table__
repayments = Repayment.__table__


class LoanNotFound(NotFound):
    code = "loan_not_found"


@dataclass(frozen=True)
class LoanRecord:
    id: uuid.UUID
    application_id: uuid.UUID
    scheme_id: uuid.UUID
    product_id: uuid.UUID
    partner_id: uuid.UUID
    customer_id: uuid.UUID
    borrower_account_id: int
    currency: str
    principal_minor: int
    origination_fee_minor: int
    status: str
    schedule_version: int
    disbursement_transaction_id: uuid.UUID
    sweep_percent: Decimal | None
    sweep_cap: str | None
    disbursed_at: datetime
    closed_at: datetime | None
    written_off_minor: int
    write_off_transaction_id: uuid.UUID | None
    accrued_interest_minor: int = 0
    interest_paid_minor: int = 0
    days_past_due: int = 0
    delinquency_bucket: str = "current"


@dataclass(frozen=True)
class RepaymentRecord:
    id: uuid.UUID
    loan_id: uuid.UUID
    reference: str
    source: str
    remittance_id: uuid.UUID | None
    amount_minor: int
    principal_minor: int
    interest_minor: int
    fee_minor: int
    penalty_minor: int
    prepaid_minor: int
    allocation: list[dict[str, Any]]
    request_hash: str
    transaction_id: uuid.UUID
    effective_at: datetime
    created_at: datetime
    replayed: bool = False


def loan_record(row: Any) -> LoanRecord:
    return LoanRecord(**{name: getattr(row, name) for name in LoanRecord.__dataclass_fields__})


def repayment_record(row: Any) -> RepaymentRecord:
    fields = [n for n in RepaymentRecord.__dataclass_fields__ if n != "replayed"]
    return RepaymentRecord(**{name: getattr(row, name) for name in fields})


def get_loan(
    connection: Connection,
    loan_id: uuid.UUID,
    *,
    partner_id: uuid.UUID | None = None,
    lock: bool = False,
) -> LoanRecord:
    """The loan (a partner's own only, when ``partner_id`` is given); ``lock`` takes
    the row for the command that changes it (repayments of one loan take turns)."""
    query = select(loans).where(loans.c.id == loan_id)
    if partner_id is not None:
        query = query.where(loans.c.partner_id == partner_id)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise LoanNotFound(f"loan {loan_id} does not exist", loan_id=str(loan_id))
    return loan_record(row)


def list_loans(
    connection: Connection,
    *,
    partner_id: uuid.UUID | None = None,
    scheme_ids: list[uuid.UUID] | None = None,
    customer_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int,
    starting_after: uuid.UUID | None = None,
) -> tuple[list[LoanRecord], bool]:
    query = select(loans)
    if partner_id is not None:
        query = query.where(loans.c.partner_id == partner_id)
    if scheme_ids is not None:
        query = query.where(loans.c.scheme_id.in_(scheme_ids))
    if customer_id is not None:
        query = query.where(loans.c.customer_id == customer_id)
    if status is not None:
        query = query.where(loans.c.status == status)
    if starting_after is not None:
        query = query.where(loans.c.id < starting_after)
    rows = connection.execute(query.order_by(loans.c.id.desc()).limit(limit + 1)).all()
    return [loan_record(r) for r in rows[:limit]], len(rows) > limit


def schedule_of(connection: Connection, loan: LoanRecord) -> list[ScheduledInstallment]:
    rows = connection.execute(
        select(installments_table)
        .where(
            installments_table.c.loan_id == loan.id,
            installments_table.c.version == loan.schedule_version,
        )
        .order_by(installments_table.c.number)
    )
    return [
        ScheduledInstallment(
            r.number, r.period_start, r.due_date, r.principal_minor, r.interest_minor, r.fee_minor
        )
        for r in rows
    ]


def repayments_of(connection: Connection, loan_id: uuid.UUID) -> list[RepaymentRecord]:
    rows = connection.execute(
        select(repayments)
        .where(repayments.c.loan_id == loan_id)
        .order_by(repayments.c.effective_at, repayments.c.id)
    )
    return [repayment_record(row) for row in rows]


def charges_of(connection: Connection, loan_id: uuid.UUID) -> list[Any]:
    return list(
        connection.execute(
            select(charges)
            .where(charges.c.loan_id == loan_id)
            .order_by(charges.c.installment_number, charges.c.kind)
        )
    )


def loan_standing(connection: Connection, loan: LoanRecord, *, as_of: date) -> Standing:
    allocations = [
        Allocation(item["installment"], item["component"], item["amount_minor"])
        for repayment in repayments_of(connection, loan.id)
        if repayment.source != "recovery"
        for item in repayment.allocation
    ]
    return standing(
        loan.principal_minor,
        schedule_of(connection, loan),
        [(c.installment_number, c.amount_minor) for c in charges_of(connection, loan.id)],
        allocations,
        as_of=as_of,
    )


def loans_in_arrears(connection: Connection, customer_id: uuid.UUID, *, as_of: date) -> int:
    """How many of the customer's loans are in arrears: active with an installment past
    due, or written off (a loss never stops counting against the borrower)."""
    rows = connection.execute(
        select(loans).where(
            loans.c.customer_id == customer_id, loans.c.status.in_(("active", "written_off"))
        )
    )
    return sum(
        1
        for row in rows
        if row.status == "written_off"
        or loan_standing(connection, loan_record(row), as_of=as_of).days_past_due > 0
    )


def disbursed_principal_minor(connection: Connection, scheme_id: uuid.UUID) -> int:
    total = connection.execute(
        select(func.coalesce(func.sum(loans.c.principal_minor), 0)).where(
            loans.c.scheme_id == scheme_id
        )
    ).scalar_one()
    return int(total)


def clearing_code(currency: str) -> str:
    return f"platform:loan-clearing:{currency}"


def clearing_account(connection: Connection, currency: str, *, now: datetime) -> int:
    """Where money crosses between the schemes' books and customers' wallets (an asset
    of the platform: what the funds paid into wallets less what came back)."""
    spec = AccountSpec(
        code=clearing_code(currency),
        name=f"Loan clearing {currency}",
        type="asset",
        currency=currency,
        allow_overdraft=True,
    )
    return ensure_account(connection, spec, now=now)
