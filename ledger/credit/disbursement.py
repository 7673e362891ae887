"""Disbursing an approved application: the loan, its schedule fixed at that moment, and
one journal transaction.

The transaction, for principal P and origination fee F (the scheme's books, then the
platform's side of the borrower's wallet), in the scheme's currency::

    debit  scheme portfolio         P
    credit scheme cash              P - F      (what leaves the fund)
    credit scheme fee income        F          (taken at disbursement; no leg when 0)
    debit  platform loan clearing   P - F
    credit borrower's wallet        P - F

Idempotent: an application is disbursed once (the loan's application is unique and the
journal transaction carries ``disbursement:<application id>``); disbursing it again
returns the loan.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Connection, insert, select, update

from ledger.access.principals import PrincipalRecord, get_principal
from ledger.clock import FixedClock
from ledger.credit.applications import (
    ApplicationNotSubmitted,
    InsufficientFundCash,
    applications,
    get_application,
)
from ledger.credit.loans import (
    LoanRecord,
    clearing_account,
    installments_table,
    loan_record,
    loans,
    schedule_of,
)
from ledger.credit.products import get_product
from ledger.credit.schedule import Schedule, generate
from ledger.credit.schemes import get_scheme, require_manager
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import AccountNotFound, Conflict, InsufficientFunds, ValidationFailed
from ledger.events.outbox import emit, money_data
from ledger.ids import uuid7
from ledger.journal import TransactionSpec, credit, debit, get_account_by_code, post_transaction
from ledger.parties.accounts import PartnerAccountSpec, get_owned_account, open_partner_account
from ledger.parties.customers import get_customer
from ledger.remittance.records import wallet_code, wallet_suffix

register_race_constraint(RaceConstraint("uq_loans_application_id", "loans", ("application_id",)))


def borrower_wallet(
    connection: Connection,
    partner: PrincipalRecord,
    customer_id: uuid.UUID,
    currency: str,
    *,
    now: datetime,
) -> int:
    """The customer's wallet in ``currency`` at its partner (the one remittances credit),
    opened on first use."""
    try:
        return get_account_by_code(connection, wallet_code(partner.slug, customer_id, currency)).id
    except AccountNotFound:
        customer = get_customer(connection, partner.id, customer_id)
        return open_partner_account(
            connection,
            partner,
            PartnerAccountSpec(
                name=f"{customer.full_name}: {currency}",
                type="liability",
                currency=currency,
                code=wallet_suffix(customer_id, currency),
                customer_id=customer_id,
            ),
            now=now,
        ).account.id


def store_schedule(
    connection: Connection, loan_id: uuid.UUID, version: int, schedule: Schedule | list
) -> None:
    items = schedule.installments if isinstance(schedule, Schedule) else schedule
    connection.execute(
        insert(installments_table),
        [
            {
                "loan_id": loan_id,
                "version": version,
                "number": item.number,
                "period_start": item.period_start,
                "due_date": item.due_date,
                "principal_minor": item.principal_minor,
                "interest_minor": item.interest_minor,
                "fee_minor": item.fee_minor,
            }
            for item in items
        ],
    )


class DisbursementConflict(Conflict):
    code = "disbursement_conflict"


def _same_disbursement(
    connection: Connection,
    loan: LoanRecord,
    disbursement_date: date | None,
    first_due_date: date | None,
    borrower_account_id: int | None,
) -> None:
    """A repeated disbursement names what was paid out, or nothing: other options are
    a conflict, not a silent replay of the first."""
    first = schedule_of(connection, loan)[0]
    if (
        (borrower_account_id is not None and borrower_account_id != loan.borrower_account_id)
        or (disbursement_date is not None and disbursement_date != first.period_start)
        or (first_due_date is not None and first_due_date != first.due_date)
    ):
        raise DisbursementConflict(
            f"the application was disbursed as loan {loan.id} with other options",
            loan_id=str(loan.id),
        )


def disburse(
    connection: Connection,
    manager: PrincipalRecord,
    application_id: uuid.UUID,
    *,
    now: datetime,
    disbursement_date: date | None = None,
    first_due_date: date | None = None,
    borrower_account_id: int | None = None,
) -> LoanRecord:
    """Pay an approved application out to the borrower's account."""
    found = get_application(connection, application_id)
    scheme = get_scheme(connection, found.scheme_id, lock=True)
    require_manager(scheme, manager)
    existing = connection.execute(select(loans).where(loans.c.application_id == found.id)).first()
    if existing is not None:
        loan = loan_record(existing)
        _same_disbursement(connection, loan, disbursement_date, first_due_date, borrower_account_id)
        return loan
    found = get_application(connection, application_id, lock=True)
    if found.status != "approved":
        raise ApplicationNotSubmitted(
            f"application {found.id} is {found.status}; only approved ones are disbursed",
            application_status=found.status,
        )
    product = get_product(connection, found.product_id)
    terms = product.terms
    day = disbursement_date or now.date()
    schedule = generate(
        terms.schedule, found.principal_minor, found.installments, day, first_due_date
    )
    fee = terms.origination_fee.amount_minor(found.principal_minor)
    principal, currency = found.principal_minor, scheme.currency
    if fee >= principal:
        raise ValidationFailed("the origination fee would take the whole loan", field="fee")
    partner = get_principal(connection, found.partner_id)
    if borrower_account_id is None:
        account_id = borrower_wallet(connection, partner, found.customer_id, currency, now=now)
    else:
        owned = get_owned_account(connection, partner.id, borrower_account_id)
        if owned.customer_id != found.customer_id or owned.account.currency != currency:
            raise ValidationFailed(
                "the borrower's account is the applicant's, in the scheme's currency",
                field="borrower_account_id",
            )
        account_id = owned.account.id
    clearing = clearing_account(connection, currency, now=now)
    legs = [
        debit(scheme.account("portfolio"), principal, currency),
        credit(scheme.account("cash"), principal - fee, currency),
    ]
    if fee:
        legs.append(credit(scheme.account("fee_income"), fee, currency))
    legs += [
        debit(clearing, principal - fee, currency),
        credit(account_id, principal - fee, currency),
    ]
    loan_id = uuid7()
    try:
        transaction = post_transaction(
            connection,
            TransactionSpec(
                postings=tuple(legs),
                description=f"Loan disbursement {loan_id}",
                metadata={"credit": {"loan_id": str(loan_id), "event": "loan.disbursed"}},
                idempotency_key=f"disbursement:{found.id}",
                client_id=scheme.client_id,
            ),
            clock=FixedClock(now),
        )
    except InsufficientFunds as error:
        if error.details.get("account_id") == scheme.account("cash"):
            raise InsufficientFundCash(
                "the fund's cash does not cover this disbursement",
                account_id=scheme.account("cash"),
            ) from None
        raise
    record = LoanRecord(
        id=loan_id,
        application_id=found.id,
        scheme_id=scheme.id,
        product_id=product.id,
        partner_id=found.partner_id,
        customer_id=found.customer_id,
        borrower_account_id=account_id,
        currency=currency,
        principal_minor=principal,
        origination_fee_minor=fee,
        status="active",
        schedule_version=1,
        disbursement_transaction_id=transaction.id,
        sweep_percent=None,
        sweep_cap=None,
        disbursed_at=now,
        closed_at=None,
        written_off_minor=0,
        write_off_transaction_id=None,
    )
    connection.execute(insert(loans).values(**record.__dict__))
    store_schedule(connection, loan_id, 1, schedule)
    connection.execute(
        update(applications)
        .where(applications.c.id == found.id, applications.c.status == "approved")
        .values(status="disbursed")
    )
    emit(
        connection,
        record.partner_id,
        "loan.disbursed",
        {
            "loan_id": str(record.id),
            "application_id": str(record.application_id),
            "customer_id": str(record.customer_id),
            "principal": money_data(record.principal_minor, currency),
            "origination_fee": money_data(record.origination_fee_minor, currency),
            "installments": len(schedule.installments),
            "first_due_date": schedule.installments[0].due_date.isoformat(),
        },
        now=now,
    )
    return record
