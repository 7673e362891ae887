"""Late fees and write-offs.

* **Late fees** (``charge_late_fees``, the scheduler's daily job in issue 6): an
  installment still unpaid more than the product's ``late_fee_after_days`` after its
  due date is charged once: a flat amount or a percentage of what it has overdue
  (principal and interest), rounded half-even. Posted as fees receivable / fee income;
  repayments then pay it off as a penalty.
* **Write-off** (a fund manager): the outstanding principal leaves the portfolio. The
  sponsors' **first-loss layer** absorbs it first, up to what is in the layer and up
  to ``first_loss_percent`` of all principal the scheme ever disbursed, less what the
  layer already absorbed; the rest is a loss (written-off expense, so the investors
  bear it). Unpaid late fees are written off too, and interest accrued but not paid
  is reversed out of income (the loan accrues no more). Later payments are recoveries
  (``ledger.credit.repayments``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import Connection, insert, select, update

from ledger.access.principals import PrincipalRecord
from ledger.clock import FixedClock
from ledger.credit.loans import (
    LoanRecord,
    charges,
    disbursed_principal_minor,
    get_loan,
    loan_standing,
    loans,
)
from ledger.credit.products import get_product
from ledger.credit.repayments import LoanClosed
from ledger.credit.schemes import SchemeRecord, get_scheme, require_manager
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import ValidationFailed
from ledger.ids import uuid7
from ledger.journal import TransactionSpec, credit, debit, post_transaction, storage

register_race_constraint(
    RaceConstraint(
        "uq_loan_charges_loan_id_installment_number_kind",
        "loan_charges",
        ("loan_id", "installment_number", "kind"),
    )
)


def charge_late_fees(
    connection: Connection,
    loan_id: uuid.UUID,
    *,
    as_of: date,
    now: datetime,
    effective_at: datetime | None = None,
) -> list[tuple[int, int]]:
    """Charge every installment of the loan late on ``as_of`` that is not charged yet.
    Returns ``(installment, amount)`` of the charges made."""
    loan = get_loan(connection, loan_id, lock=True)
    if loan.status != "active":
        return []
    terms = get_product(connection, loan.product_id).terms
    scheme = get_scheme(connection, loan.scheme_id)
    position = loan_standing(connection, loan, as_of=as_of)
    charged = {
        row.installment_number
        for row in connection.execute(
            select(charges.c.installment_number).where(
                charges.c.loan_id == loan.id, charges.c.kind == "late_fee"
            )
        )
    }
    made = []
    for item in position.installments:
        overdue = item.outstanding["principal"] + item.outstanding["interest"]
        if item.number in charged or overdue <= 0:
            continue
        if (as_of - item.due_date).days <= terms.late_fee_after_days:
            continue
        amount = terms.late_fee.amount_minor(overdue)
        if amount <= 0:
            continue
        transaction = post_transaction(
            connection,
            TransactionSpec(
                postings=(
                    debit(scheme.account("fees_receivable"), amount, loan.currency),
                    credit(scheme.account("fee_income"), amount, loan.currency),
                ),
                description=f"Late fee on installment {item.number} of loan {loan.id}",
                effective_at=effective_at,
                metadata={"credit": {"loan_id": str(loan.id), "event": "loan.overdue"}},
                idempotency_key=f"late-fee:{loan.id}:{item.number}",
                client_id=scheme.client_id,
            ),
            clock=FixedClock(now),
        )
        connection.execute(
            insert(charges).values(
                id=uuid7(),
                loan_id=loan.id,
                installment_number=item.number,
                kind="late_fee",
                amount_minor=amount,
                charged_on=as_of,
                transaction_id=transaction.id,
                created_at=now,
            )
        )
        made.append((item.number, amount))
    return made


def first_loss_capacity(connection: Connection, scheme: SchemeRecord) -> int:
    """What the first-loss layer can still absorb (see the module docstring)."""
    (layer,) = storage.store_for(connection).read_accounts(
        [scheme.account("first_loss")], lock=False
    )
    in_layer = layer.credits_posted_minor - layer.debits_posted_minor
    absorbed = layer.debits_posted_minor  # only write-offs debit the layer
    limit = (
        scheme.first_loss_percent / 100 * disbursed_principal_minor(connection, scheme.id)
    ).quantize(Decimal(1), ROUND_DOWN)
    return max(0, min(in_layer, int(limit) - absorbed))


def write_off(
    connection: Connection,
    manager: PrincipalRecord,
    loan_id: uuid.UUID,
    *,
    now: datetime,
    reason: str,
) -> LoanRecord:
    """Write the loan's outstanding principal (and unpaid late fees) off."""
    loan = get_loan(connection, loan_id, lock=True)
    scheme = get_scheme(connection, loan.scheme_id, lock=True)
    require_manager(scheme, manager)
    if loan.status == "written_off":
        return loan
    if loan.status != "active":
        raise LoanClosed(f"loan {loan.id} is {loan.status}", loan_id=str(loan.id))
    position = loan_standing(connection, loan, as_of=now.date())
    principal = position.outstanding_principal_minor
    fees = sum(i.outstanding["penalty"] for i in position.installments)
    if principal == 0 and fees == 0 and loan.accrued_interest_minor == loan.interest_paid_minor:
        raise ValidationFailed("the loan has nothing outstanding to write off")
    absorbed = min(principal, first_loss_capacity(connection, scheme))
    currency = loan.currency
    legs = [credit(scheme.account("portfolio"), principal, currency)] if principal else []
    if absorbed:
        legs.append(debit(scheme.account("first_loss"), absorbed, currency))
    if principal - absorbed:
        legs.append(debit(scheme.account("written_off"), principal - absorbed, currency))
    if fees:
        legs += [
            credit(scheme.account("fees_receivable"), fees, currency),
            debit(scheme.account("written_off"), fees, currency),
        ]
    # Interest accrued and not paid was never going to come: it leaves income again
    # (and interest paid ahead of its accrual is earned now).
    unearned = loan.accrued_interest_minor - loan.interest_paid_minor
    if unearned > 0:
        legs += [
            debit(scheme.account("interest_income"), unearned, currency),
            credit(scheme.account("interest_receivable"), unearned, currency),
        ]
    elif unearned < 0:
        legs += [
            debit(scheme.account("interest_receivable"), -unearned, currency),
            credit(scheme.account("interest_income"), -unearned, currency),
        ]
    transaction = post_transaction(
        connection,
        TransactionSpec(
            postings=tuple(legs),
            description=f"Write-off of loan {loan.id}: {reason}",
            metadata={
                "credit": {
                    "loan_id": str(loan.id),
                    "event": "loan.written_off",
                    "first_loss_minor": absorbed,
                    "reason": reason[:200],
                }
            },
            idempotency_key=f"write-off:{loan.id}",
            client_id=scheme.client_id,
        ),
        clock=FixedClock(now),
    )
    connection.execute(
        update(loans)
        .where(loans.c.id == loan.id)
        .values(
            status="written_off",
            closed_at=now,
            written_off_minor=principal,
            write_off_transaction_id=transaction.id,
            accrued_interest_minor=loan.interest_paid_minor,
        )
    )
    return get_loan(connection, loan.id)
