"""Repayments: allocated by the product's order, a prepayment rescheduling what is left,
one journal transaction each; recoveries of written-off loans.

A repayment of X (= principal p + interest i + late fees q) from the borrower's
account, in the scheme's currency::

    debit  borrower's account       X
    credit platform loan clearing   X
    debit  scheme cash              X
    credit scheme portfolio         p        (no leg for a zero part)
    credit scheme interest receivable i      (accrued day by day: ledger.credit.accruals)
    credit scheme fees receivable   q        (late fees were receivable when charged)

Whatever exceeds what is due (the installments due and the next one, see
``ledger.credit.allocation``) prepays principal: the installments after the next are
rebuilt as a new schedule version on the principal left, with the same number of
installments and lower amounts (``reduce_installments``) or with as few installments
as keep each no larger than before (``reduce_term``). More than the whole payoff is
refused (``overpayment``); so is a payment to a closed loan (``loan_closed``).

Idempotent by the partner's ``reference`` (unique per loan): the same reference and
amount return the repayment; another amount is a conflict. A written-off loan takes
**recoveries**: credited to recovery income, up to the amount written off.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import Connection, func, insert, select, update

from ledger.clock import FixedClock
from ledger.credit.allocation import Allocation, Standing, allocate
from ledger.credit.disbursement import store_schedule
from ledger.credit.loans import (
    LoanRecord,
    RepaymentRecord,
    clearing_account,
    get_loan,
    loan_standing,
    loans,
    repayment_record,
    repayments,
    repayments_of,
    schedule_of,
)
from ledger.credit.products import get_product
from ledger.credit.schedule import Installment, generate_on_dates, grace_interest_carried
from ledger.credit.schemes import SchemeRecord, get_scheme
from ledger.credit.terms import ALLOCATION_ORDERS, ProductTerms
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import Conflict, InvalidAmount, LedgerError, ValidationFailed
from ledger.events.outbox import emit, money_data
from ledger.ids import uuid7
from ledger.journal import PostingSpec, TransactionSpec, credit, debit, post_transaction
from ledger.journal.validation import refuse_nul
from ledger.limits import PARTNER_REFERENCE_LENGTH_MAX
from ledger.money import from_minor

register_race_constraint(
    RaceConstraint("uq_repayments_loan_id_reference", "repayments", ("loan_id", "reference"))
)


#: Sweeps' references (``sweep:<remittance id>``): refused for other repayments so a
#: partner's reference can never block a remittance's sweep.
SWEEP_PREFIX = "sweep:"


class LoanClosed(Conflict):
    code = "loan_closed"


class Overpayment(LedgerError):
    code = "overpayment"


class RepaymentExists(Conflict):
    code = "repayment_exists"


def _key(loan_id: uuid.UUID, reference: str) -> str:
    return f"repayment:{loan_id}:{hashlib.sha256(reference.encode()).hexdigest()[:32]}"


def _fingerprint(amount_minor: int, source: str, remittance_id: uuid.UUID | None) -> str:
    return hashlib.sha256(f"{amount_minor}|{source}|{remittance_id}".encode()).hexdigest()


def rebuilt_future(
    terms: ProductTerms,
    position: Standing,
    prepaid_minor: int,
    earlier_prepayments: Sequence[tuple[date, int]] = (),
) -> list[Installment]:
    """The installments after those due now, rebuilt on the principal a prepayment left
    (pure; numbered after the last one due now). They keep the loan's due dates and
    whatever grace is left; interest that grace on interest deferred in the periods
    already behind is still billed (``earlier_prepayments``: the loan's principal
    prepaid before, ``(day, amount)``)."""
    due_now = position.due_now()
    last = due_now[-1]
    future = [i for i in position.installments if i.number > last.number]
    remaining = sum(i.outstanding["principal"] for i in future) - prepaid_minor
    if remaining <= 0 or not future:
        return []
    schedule = terms.schedule
    left_grace = replace(
        schedule,
        grace_on_principal=max(0, schedule.grace_on_principal - last.number),
        grace_on_interest=max(0, schedule.grace_on_interest - last.number),
    )
    carried = grace_interest_carried(
        schedule,
        position.principal_minor,
        [(i.period_start, i.due_date, i.due["principal"]) for i in position.installments],
        earlier_prepayments,
        last.number,
    )
    dates = [i.due_date for i in future]

    def build(count: int) -> list[Installment]:
        # A schedule that ended early (an installment multiple) may have fewer
        # installments left than grace periods: the grace ends with the last but one.
        graced = replace(
            left_grace,
            grace_on_principal=min(left_grace.grace_on_principal, count - 1),
            grace_on_interest=min(left_grace.grace_on_interest, count - 1),
        )
        built = generate_on_dates(
            graced, remaining, last.due_date, dates[:count], carried_interest_minor=carried
        )
        return list(built.installments)

    rebuilt = build(len(future))
    if terms.prepayment == "reduce_term":
        largest = max(i.total_minor for i in future)
        fewest = max(left_grace.grace_on_principal, left_grace.grace_on_interest) + 1
        for count in range(min(fewest, len(future)), len(future)):
            candidate = build(count)
            if max(i.total_minor for i in candidate) <= largest:
                rebuilt = candidate
                break
    offset = last.number
    return [replace(item, number=item.number + offset) for item in rebuilt]


def _legs(
    loan: LoanRecord,
    scheme_accounts: dict[str, int],
    clearing: int,
    parts: dict[str, int],
    *,
    recovery: bool,
) -> tuple[PostingSpec, ...]:
    total = sum(parts.values())
    currency = loan.currency
    legs = [
        debit(loan.borrower_account_id, total, currency),
        credit(clearing, total, currency),
        debit(scheme_accounts["cash"], total, currency),
    ]
    if recovery:
        legs.append(credit(scheme_accounts["recovery_income"], total, currency))
        return tuple(legs)
    for component, role in (
        ("principal", "portfolio"),
        ("interest", "interest_receivable"),
        ("penalty", "fees_receivable"),
        ("fee", "fee_income"),
    ):
        if parts.get(component):
            legs.append(credit(scheme_accounts[role], parts[component], currency))
    return tuple(legs)


def repay(
    connection: Connection,
    loan_id: uuid.UUID,
    *,
    amount_minor: int,
    reference: str,
    now: datetime,
    partner_id: uuid.UUID | None = None,
    source: str = "direct",
    remittance_id: uuid.UUID | None = None,
    effective_at: datetime | None = None,
) -> RepaymentRecord:
    """Apply ``amount_minor`` from the borrower's account to the loan."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
        raise InvalidAmount("a repayment is a positive amount", field="amount")
    if (
        not isinstance(reference, str)
        or not reference.strip()
        or len(reference) > PARTNER_REFERENCE_LENGTH_MAX
    ):
        raise ValidationFailed(
            f"a reference is 1 to {PARTNER_REFERENCE_LENGTH_MAX} characters", field="reference"
        )
    refuse_nul(reference, "reference")
    if (source == "sweep") != reference.startswith(SWEEP_PREFIX):
        raise ValidationFailed(
            f"references starting {SWEEP_PREFIX!r} are the sweeps' own", field="reference"
        )
    loan = get_loan(connection, loan_id, partner_id=partner_id, lock=True)
    when = effective_at or now
    fingerprint = _fingerprint(amount_minor, source, remittance_id)
    existing = connection.execute(
        select(repayments).where(
            repayments.c.loan_id == loan.id, repayments.c.reference == reference
        )
    ).first()
    if existing is not None:
        found = repayment_record(existing)
        if found.request_hash != fingerprint:
            raise RepaymentExists(
                f"repayment reference {reference!r} was used with another amount",
                reference=reference,
            )
        return replace(found, replayed=True)
    scheme = get_scheme(connection, loan.scheme_id)
    clearing = clearing_account(connection, loan.currency, now=now)
    if loan.status == "written_off":
        return _recover(
            connection,
            loan,
            scheme,
            clearing,
            amount_minor,
            reference,
            fingerprint,
            source,
            remittance_id,
            when,
            now,
        )
    if loan.status != "active":
        raise LoanClosed(f"loan {loan.id} is {loan.status}", loan_id=str(loan.id))
    terms = get_product(connection, loan.product_id).terms
    position = loan_standing(connection, loan, as_of=when.date())
    if amount_minor > position.payoff_minor:
        raise Overpayment(
            f"the loan's payoff is {from_minor(position.payoff_minor, loan.currency)} "
            f"{loan.currency}; {from_minor(amount_minor, loan.currency)} is more than it owes",
            payoff_minor=position.payoff_minor,
        )
    allocations, left = allocate(position, amount_minor, ALLOCATION_ORDERS[terms.allocation_order])
    parts = {
        c: sum(a.amount_minor for a in allocations if a.component == c)
        for c in ("principal", "interest", "fee", "penalty")
    }
    if left:
        allocations.append(Allocation(None, "principal", left))
        parts["principal"] += left
    record = _book(
        connection,
        loan,
        scheme,
        clearing,
        parts=parts,
        prepaid_minor=left,
        allocation=[a.as_dict() for a in allocations],
        reference=reference,
        fingerprint=fingerprint,
        source=source,
        remittance_id=remittance_id,
        when=when,
        now=now,
    )
    if left:
        _reschedule(connection, loan, terms, position, left)
    after = loan_standing(connection, get_loan(connection, loan.id), as_of=when.date())
    if after.closed:
        connection.execute(
            update(loans).where(loans.c.id == loan.id).values(status="closed", closed_at=now)
        )
    return record


def _reschedule(
    connection: Connection,
    loan: LoanRecord,
    terms: ProductTerms,
    position: Standing,
    prepaid_minor: int,
) -> None:
    earlier = [
        (r.effective_at.date(), r.prepaid_minor)
        for r in repayments_of(connection, loan.id)
        if r.prepaid_minor
    ]
    future = rebuilt_future(terms, position, prepaid_minor, earlier)
    last = position.due_now()[-1].number
    kept = [item for item in schedule_of(connection, loan) if item.number <= last]
    version = loan.schedule_version + 1
    store_schedule(connection, loan.id, version, [*kept, *future])
    connection.execute(update(loans).where(loans.c.id == loan.id).values(schedule_version=version))


def _recover(
    connection: Connection,
    loan: LoanRecord,
    scheme: SchemeRecord,
    clearing: int,
    amount_minor: int,
    reference: str,
    fingerprint: str,
    source: str,
    remittance_id: uuid.UUID | None,
    when: datetime,
    now: datetime,
) -> RepaymentRecord:
    recovered = connection.execute(
        select(func.coalesce(func.sum(repayments.c.amount_minor), 0)).where(
            repayments.c.loan_id == loan.id, repayments.c.source == "recovery"
        )
    ).scalar_one()
    left = loan.written_off_minor - int(recovered)
    if amount_minor > left:
        raise Overpayment(
            f"only {from_minor(left, loan.currency)} {loan.currency} of the written-off loan "
            "is left to recover",
            payoff_minor=left,
        )
    return _book(
        connection,
        loan,
        scheme,
        clearing,
        parts={"principal": amount_minor, "interest": 0, "fee": 0, "penalty": 0},
        prepaid_minor=0,
        allocation=[{"installment": None, "component": "recovery", "amount_minor": amount_minor}],
        reference=reference,
        fingerprint=fingerprint,
        source="recovery",
        remittance_id=remittance_id,
        when=when,
        now=now,
    )


def _book(
    connection: Connection,
    loan: LoanRecord,
    scheme: SchemeRecord,
    clearing: int,
    *,
    parts: dict[str, int],  # principal includes any prepayment
    prepaid_minor: int,
    allocation: list[dict[str, object]],
    reference: str,
    fingerprint: str,
    source: str,
    remittance_id: uuid.UUID | None,
    when: datetime,
    now: datetime,
) -> RepaymentRecord:
    """Post the repayment (or recovery) and store its row: the one path both take."""
    recovery = source == "recovery"
    repayment_id = uuid7()
    transaction = post_transaction(
        connection,
        TransactionSpec(
            postings=_legs(loan, scheme.accounts, clearing, parts, recovery=recovery),
            description=(
                f"Recovery on written-off loan {loan.id}: {reference}"
                if recovery
                else f"Loan repayment {reference}"
            ),
            effective_at=when,
            metadata={
                "credit": {
                    "loan_id": str(loan.id),
                    "repayment_id": str(repayment_id),
                    "event": "loan.recovery.received" if recovery else "loan.repayment.received",
                    **({"remittance_id": str(remittance_id)} if remittance_id else {}),
                }
            },
            idempotency_key=_key(loan.id, reference),
            client_id=scheme.client_id,
        ),
        clock=FixedClock(now),
    )
    record = RepaymentRecord(
        id=repayment_id,
        loan_id=loan.id,
        reference=reference,
        source=source,
        remittance_id=remittance_id,
        amount_minor=sum(parts.values()),
        principal_minor=parts["principal"],
        interest_minor=parts["interest"],
        fee_minor=parts["fee"],
        penalty_minor=parts["penalty"],
        prepaid_minor=prepaid_minor,
        allocation=allocation,
        request_hash=fingerprint,
        transaction_id=transaction.id,
        effective_at=when,
        created_at=now,
    )
    connection.execute(
        insert(repayments).values(**{k: v for k, v in record.__dict__.items() if k != "replayed"})
    )
    if parts["interest"]:
        connection.execute(
            update(loans)
            .where(loans.c.id == loan.id)
            .values(interest_paid_minor=loans.c.interest_paid_minor + parts["interest"])
        )
    if not recovery:
        currency = loan.currency
        emit(
            connection,
            loan.partner_id,
            "loan.repayment.received",
            {
                "loan_id": str(loan.id),
                "repayment_id": str(record.id),
                "reference": reference,
                "source": source,
                "remittance_id": str(remittance_id) if remittance_id else None,
                "amount": money_data(record.amount_minor, currency),
                "principal": money_data(record.principal_minor, currency),
                "interest": money_data(record.interest_minor, currency),
                "fees": money_data(record.fee_minor + record.penalty_minor, currency),
            },
            now=now,
        )
    return record
