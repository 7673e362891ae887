"""Remittance-linked repayment: a borrower opts in to sweep a share of each completed
remittance into their loan.

* The opt-in (``set_sweep``): a percentage of each remittance (a fraction, up to 1),
  capped at what is due (the installments due and the next one: the default) or at
  everything the loan owes (``outstanding``).
* When a remittance to the borrower completes (``complete_and_sweep``, which the API's
  completion uses), each of the borrower's active, opted-in loans in the remittance's
  receive currency whose account the remittance credited takes
  ``percent x received``, rounded down to the minor unit, no more than its cap and
  never more than is left of the remittance (oldest loan first): a repayment with
  source ``sweep``, its own journal transaction in the same database transaction as the
  completion, linked to both (the repayment names the remittance; its transaction's
  metadata names both). A remittance is swept once per loan. The opt-ins of one
  borrower's account add up to at most 100% (``sweeps_exceed_remittance``).
* Each loan is locked before its amount is worked out, so a repayment, a write-off or
  a closing that commits meanwhile is seen: a loan no longer active is skipped, and the
  completion never fails for it.
* Remittances recorded by the bulk import (completed elsewhere, often long ago) are
  not swept: a sweep takes money as it arrives.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import Connection, select, update

from ledger.credit.loans import (
    LoanRecord,
    RepaymentRecord,
    get_loan,
    loan_standing,
    loans,
)
from ledger.credit.repayments import SWEEP_PREFIX, LoanClosed, repay
from ledger.errors import ValidationFailed
from ledger.remittance.records import RemittanceRecord
from ledger.remittance.remittances import complete_remittance

SWEEP_CAPS = ("due", "outstanding")


class SweepsExceedRemittance(ValidationFailed):
    code = "sweeps_exceed_remittance"


def set_sweep(
    connection: Connection,
    partner_id: uuid.UUID,
    loan_id: uuid.UUID,
    *,
    percent: Decimal | None,
    cap: str = "due",
) -> LoanRecord:
    """Opt the loan in (``percent`` a fraction in (0, 1]) or out (None)."""
    loan = get_loan(connection, loan_id, partner_id=partner_id, lock=True)
    if loan.status != "active":
        raise LoanClosed(f"loan {loan.id} is {loan.status}", loan_id=str(loan.id))
    if percent is not None:
        if not isinstance(percent, Decimal) or not 0 < percent <= 1:
            raise ValidationFailed("a sweep is a fraction above 0 and at most 1", field="percent")
        if cap not in SWEEP_CAPS:
            raise ValidationFailed(f"the cap is one of {', '.join(SWEEP_CAPS)}", field="cap")
        # Every active loan on the account, locked in id order: two opt-ins at once
        # take turns, and the second sees the first's percentage.
        others = connection.execute(
            select(loans.c.id, loans.c.sweep_percent)
            .where(
                loans.c.borrower_account_id == loan.borrower_account_id,
                loans.c.status == "active",
                loans.c.id != loan.id,
            )
            .order_by(loans.c.id)
            .with_for_update()
        ).all()
        taken = sum((row.sweep_percent for row in others if row.sweep_percent), Decimal(0))
        if percent + taken > 1:
            raise SweepsExceedRemittance(
                "the sweeps of this borrower's loans would take more than the whole remittance",
                field="percent",
            )
    connection.execute(
        update(loans)
        .where(loans.c.id == loan.id)
        .values(sweep_percent=percent, sweep_cap=cap if percent is not None else None)
    )
    return get_loan(connection, loan.id)


def sweep_amount(percent: Decimal, received_minor: int, cap_minor: int) -> int:
    """percent x received, rounded down, no more than the cap (pure)."""
    exact = (percent * received_minor).quantize(Decimal(1), ROUND_DOWN)
    return max(0, min(int(exact), cap_minor))


def sweep_remittance(
    connection: Connection, remittance: RemittanceRecord, *, now: datetime
) -> list[RepaymentRecord]:
    """Sweep a completed remittance into the beneficiary's opted-in loans."""
    if remittance.status != "completed":
        return []
    ids = connection.execute(
        select(loans.c.id)
        .where(
            loans.c.customer_id == remittance.beneficiary_customer_id,
            loans.c.partner_id == remittance.partner_id,
            loans.c.currency == remittance.receive_currency,
            loans.c.borrower_account_id == remittance.beneficiary_account_id,
            loans.c.status == "active",
            loans.c.sweep_percent.is_not(None),
        )
        .order_by(loans.c.disbursed_at, loans.c.id)
    ).scalars()
    made = []
    left = remittance.receive_minor
    for loan_id in list(ids):
        loan = get_loan(connection, loan_id, lock=True)
        if loan.status != "active" or loan.sweep_percent is None:
            continue
        position = loan_standing(connection, loan, as_of=now.date())
        cap = position.due_now_minor if loan.sweep_cap == "due" else position.payoff_minor
        amount = min(sweep_amount(loan.sweep_percent, remittance.receive_minor, cap), left)
        if amount == 0:
            continue
        left -= amount
        made.append(
            repay(
                connection,
                loan.id,
                amount_minor=amount,
                reference=f"{SWEEP_PREFIX}{remittance.id}",
                now=now,
                source="sweep",
                remittance_id=remittance.id,
            )
        )
    return made


def complete_and_sweep(
    connection: Connection, partner_id: uuid.UUID, remittance_id: uuid.UUID, *, now: datetime
) -> tuple[RemittanceRecord, list[RepaymentRecord]]:
    """Complete a remittance and sweep it into the beneficiary's loans, in one unit of
    work (what the partner API's completion does)."""
    remittance = complete_remittance(connection, partner_id, remittance_id, now=now)
    return remittance, sweep_remittance(connection, remittance, now=now)
