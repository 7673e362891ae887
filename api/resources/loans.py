"""Loan applications and loans: partners apply, repay and opt in to sweeps for their
customers; fund managers decide, disburse and write off for their schemes."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from flask import Response
from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, principal
from api.idempotency import idempotent, run_recorded
from api.resources import ID_MAX, Blueprint, parse_cursor_uuid, parse_uuid
from api.resources.transactions import transaction_json
from api.schemas import (
    BaseSchema,
    Day,
    DecimalString,
    MoneySchema,
    PageArgs,
    Timestamp,
    json_response,
    money,
    money_to_minor,
    page,
    page_of,
)
from ledger.access.principals import PrincipalRecord
from ledger.credit.accruals import accrual_target
from ledger.credit.allocation import Standing
from ledger.credit.applications import (
    ApplicationNotFound,
    ApplicationRecord,
    apply,
    cancel_application,
    decide,
    get_application,
    list_applications,
)
from ledger.credit.disbursement import disburse
from ledger.credit.loans import (
    LoanNotFound,
    LoanRecord,
    RepaymentRecord,
    charges_of,
    get_loan,
    list_loans,
    loan_standing,
    repayments_of,
)
from ledger.credit.losses import write_off
from ledger.credit.models import APPLICATION_STATUSES, LOAN_STATUSES
from ledger.credit.repayments import repay
from ledger.credit.schemes import get_scheme, list_schemes
from ledger.credit.sweeps import SWEEP_CAPS, set_sweep
from ledger.errors import CurrencyMismatch
from ledger.journal.queries import load_transactions
from ledger.limits import PARTNER_REFERENCE_LENGTH_MAX, REASON_LENGTH_MAX

blp = Blueprint("loans", __name__, url_prefix="/v1", description="Loan applications and loans")


class ApplicationCreateSchema(BaseSchema):
    customer_id = fields.UUID(required=True, metadata={"description": "one of your customers"})
    scheme_id = fields.UUID(required=True)
    product_id = fields.UUID(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    installments = fields.Integer(required=True, strict=True, validate=validate.Range(1, 520))
    purpose = fields.String(required=True, validate=validate.Length(1, REASON_LENGTH_MAX))
    description = fields.String(required=True, validate=validate.Length(1, 2_000))


class ApplicationSchema(BaseSchema):
    id = fields.UUID(required=True)
    customer_id = fields.UUID(required=True)
    scheme_id = fields.UUID(required=True)
    product_id = fields.UUID(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    installments = fields.Integer(required=True)
    purpose = fields.String(required=True)
    description = fields.String(required=True)
    recommendation = fields.String(
        required=True, metadata={"description": "the score: approved, declined or review"}
    )
    score = fields.Dict(required=True, metadata={"description": "every reason and figure"})
    status = fields.String(required=True, validate=validate.OneOf(APPLICATION_STATUSES))
    decided_at = Timestamp(allow_none=True, required=True)
    decision_note = fields.String(allow_none=True, required=True)
    created_at = Timestamp(required=True)


class ApplicationListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(APPLICATION_STATUSES))


class DecisionSchema(BaseSchema):
    note = fields.String(validate=validate.Length(1, REASON_LENGTH_MAX))


class DisbursementSchema(BaseSchema):
    disbursement_date = Day(metadata={"description": "business date; default today"})
    first_due_date = Day(metadata={"description": "default: one period after disbursement"})
    borrower_account_id = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=ID_MAX),
        metadata={"description": "default: the customer's wallet in the currency"},
    )


class RepaymentCreateSchema(BaseSchema):
    amount = fields.Nested(MoneySchema, required=True)
    reference = fields.String(
        required=True,
        validate=validate.Length(1, PARTNER_REFERENCE_LENGTH_MAX),
        metadata={"description": "your reference; one repayment per reference"},
    )


class RepaymentSchema(BaseSchema):
    id = fields.UUID(required=True)
    reference = fields.String(required=True)
    source = fields.String(required=True)
    remittance_id = fields.UUID(allow_none=True, required=True)
    amount = fields.Nested(MoneySchema, required=True)
    principal = fields.Nested(MoneySchema, required=True)
    interest = fields.Nested(MoneySchema, required=True)
    fees = fields.Nested(MoneySchema, required=True)
    penalties = fields.Nested(MoneySchema, required=True)
    prepaid = fields.Nested(MoneySchema, required=True)
    allocation = fields.List(fields.Dict(), required=True)
    transaction_id = fields.UUID(required=True)
    effective_at = Timestamp(required=True)


class SweepSchema(BaseSchema):
    percent = DecimalString(
        allow_none=True,
        required=True,
        metadata={"description": "share of each remittance, a fraction (0.2 is 20%); null: off"},
    )
    cap = fields.String(load_default="due", validate=validate.OneOf(SWEEP_CAPS))


class WriteOffSchema(BaseSchema):
    reason = fields.String(required=True, validate=validate.Length(1, REASON_LENGTH_MAX))


class InstallmentStateSchema(BaseSchema):
    number = fields.Integer(required=True)
    due_date = fields.Date(required=True)
    due = fields.Dict(required=True, metadata={"description": "by component, money"})
    paid = fields.Dict(required=True)
    outstanding = fields.Nested(MoneySchema, required=True)
    status = fields.String(required=True, metadata={"description": "paid, overdue, due or future"})


class LoanSchema(BaseSchema):
    id = fields.UUID(required=True)
    application_id = fields.UUID(required=True)
    scheme_id = fields.UUID(required=True)
    product_id = fields.UUID(required=True)
    customer_id = fields.UUID(required=True)
    borrower_account_id = fields.Integer(required=True)
    principal = fields.Nested(MoneySchema, required=True)
    origination_fee = fields.Nested(MoneySchema, required=True)
    status = fields.String(required=True, validate=validate.OneOf(LOAN_STATUSES))
    disbursed_at = Timestamp(required=True)
    closed_at = Timestamp(allow_none=True, required=True)
    sweep = fields.Dict(allow_none=True, required=True)


class LoanDetailSchema(LoanSchema):
    as_of = fields.Date(required=True)
    outstanding_principal = fields.Nested(MoneySchema, required=True)
    accrued_interest = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "interest earned by as_of (accrued day by day) and not paid"},
    )
    fees = fields.Nested(MoneySchema, required=True, metadata={"description": "unpaid charges"})
    overdue = fields.Nested(MoneySchema, required=True)
    days_past_due = fields.Integer(required=True)
    next_due = fields.Dict(allow_none=True, required=True)
    payoff = fields.Nested(MoneySchema, required=True)
    written_off = fields.Nested(MoneySchema, required=True)
    schedule_version = fields.Integer(required=True)
    schedule = fields.List(fields.Nested(InstallmentStateSchema), required=True)
    repayments = fields.List(fields.Nested(RepaymentSchema), required=True)
    statement = fields.List(
        fields.Dict(), required=True, metadata={"description": "the loan's journal transactions"}
    )


class LoanListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(LOAN_STATUSES))
    customer_id = fields.UUID()


class DetailArgs(BaseSchema):
    as_of = Day(metadata={"description": "default: today"})


# ------------------------------------------------------------------ views


def application_view(record: ApplicationRecord, currency: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "customer_id": record.customer_id,
        "scheme_id": record.scheme_id,
        "product_id": record.product_id,
        "amount": money(record.principal_minor, currency),
        "installments": record.installments,
        "purpose": record.purpose,
        "description": record.description,
        "recommendation": record.score_decision,
        "score": record.score,
        "status": record.status,
        "decided_at": record.decided_at,
        "decision_note": record.decision_note,
        "created_at": record.created_at,
    }


def loan_view(loan: LoanRecord) -> dict[str, Any]:
    c = loan.currency
    return {
        "id": loan.id,
        "application_id": loan.application_id,
        "scheme_id": loan.scheme_id,
        "product_id": loan.product_id,
        "customer_id": loan.customer_id,
        "borrower_account_id": loan.borrower_account_id,
        "principal": money(loan.principal_minor, c),
        "origination_fee": money(loan.origination_fee_minor, c),
        "status": loan.status,
        "disbursed_at": loan.disbursed_at,
        "closed_at": loan.closed_at,
        "sweep": (
            None
            if loan.sweep_percent is None
            else {"percent": format(loan.sweep_percent, "f"), "cap": loan.sweep_cap}
        ),
    }


def repayment_view(record: RepaymentRecord, currency: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "reference": record.reference,
        "source": record.source,
        "remittance_id": record.remittance_id,
        "amount": money(record.amount_minor, currency),
        "principal": money(record.principal_minor, currency),
        "interest": money(record.interest_minor, currency),
        "fees": money(record.fee_minor, currency),
        "penalties": money(record.penalty_minor, currency),
        "prepaid": money(record.prepaid_minor, currency),
        "allocation": [
            {
                "installment": item["installment"],
                "component": item["component"],
                "amount": money(item["amount_minor"], currency),
            }
            for item in record.allocation
        ],
        "transaction_id": record.transaction_id,
        "effective_at": record.effective_at,
    }


def _accrued_interest(position: Standing) -> int:
    """Interest earned by ``as_of`` (the accrual job's rule) and not yet paid."""
    earned = accrual_target(
        ((i.period_start, i.due_date, i.due["interest"]) for i in position.installments),
        position.as_of,
    )
    paid = sum(i.paid.get("interest", 0) for i in position.installments)
    return max(0, earned - paid)


def loan_detail(connection: Any, loan: LoanRecord, as_of: Any) -> dict[str, Any]:
    c = loan.currency
    position = loan_standing(connection, loan, as_of=as_of)
    repaid = repayments_of(connection, loan.id)
    transaction_ids = [
        loan.disbursement_transaction_id,
        *(r.transaction_id for r in repaid),
        *(row.transaction_id for row in charges_of(connection, loan.id)),
        *([loan.write_off_transaction_id] if loan.write_off_transaction_id else []),
    ]
    transactions = sorted(
        load_transactions(connection, transaction_ids), key=lambda t: (t.effective_at, t.id)
    )
    schedule = []
    for item in position.installments:
        if item.settled:
            status = "paid"
        elif item.due_date < as_of:
            status = "overdue"
        elif item.due_date == as_of:
            status = "due"
        else:
            status = "future"
        schedule.append(
            {
                "number": item.number,
                "due_date": item.due_date,
                "due": {k: money(v, c) for k, v in item.due.items()},
                "paid": {k: money(item.paid.get(k, 0), c) for k in item.due},
                "outstanding": money(item.outstanding_minor, c),
                "status": status,
            }
        )
    following = position.next_unpaid()
    active = loan.status == "active"
    return {
        **loan_view(loan),
        "as_of": as_of,
        "outstanding_principal": money(position.outstanding_principal_minor if active else 0, c),
        "accrued_interest": money(_accrued_interest(position) if active else 0, c),
        "fees": money(position.unpaid_charges_minor if active else 0, c),
        "overdue": money(position.overdue_minor if active else 0, c),
        "days_past_due": position.days_past_due if active else 0,
        "next_due": (
            {"date": following.due_date, "amount": money(following.outstanding_minor, c)}
            if following is not None and active
            else None
        ),
        "payoff": money(position.payoff_minor if active else 0, c),
        "written_off": money(loan.written_off_minor, c),
        "schedule_version": loan.schedule_version,
        "schedule": schedule,
        "repayments": [repayment_view(r, c) for r in repaid],
        "statement": [transaction_json(t) for t in transactions],
    }


# ------------------------------------------------------------------ scoping


def _managed_scheme_ids(connection: Any, caller: PrincipalRecord) -> list[uuid.UUID] | None:
    """Schemes whose applications and loans the caller sees (None: all, for admins)."""
    if caller.role == "admin":
        return None
    return [s.id for s in list_schemes(connection) if s.manager_id == caller.id]


def _visible_application(
    connection: Any, caller: PrincipalRecord, application_id: uuid.UUID
) -> ApplicationRecord:
    if caller.role == "partner":
        return get_application(connection, application_id, partner_id=caller.id)
    found = get_application(connection, application_id)
    managed = _managed_scheme_ids(connection, caller)
    if managed is not None and found.scheme_id not in managed:
        raise ApplicationNotFound(
            f"loan application {application_id} does not exist",
            application_id=str(application_id),
        )
    return found


def _visible_loan(connection: Any, caller: PrincipalRecord, loan_id: uuid.UUID) -> LoanRecord:
    if caller.role == "partner":
        return get_loan(connection, loan_id, partner_id=caller.id)
    found = get_loan(connection, loan_id)
    managed = _managed_scheme_ids(connection, caller)
    if managed is not None and found.scheme_id not in managed:
        raise LoanNotFound(f"loan {loan_id} does not exist", loan_id=str(loan_id))
    return found


def _application_id(value: str) -> uuid.UUID:
    return parse_uuid(value, "loan application", "application_not_found")


def _loan_id(value: str) -> uuid.UUID:
    return parse_uuid(value, "loan", "loan_not_found")


# ------------------------------------------------------------------ applications


@blp.route("/loan-applications", methods=["POST"])
@requires("partner")
@idempotent(required=False)
@blp.arguments(ApplicationCreateSchema())
@blp.response(201, ApplicationSchema)
def create_application(body: dict[str, Any]) -> dict[str, Any]:
    """Apply for your customer; the application is scored on their remittance history
    and waits for the scheme's fund manager."""
    partner, now = principal(), clock().now()
    amount, currency = money_to_minor(body.pop("amount"))

    def work(c: Any) -> dict[str, Any]:
        scheme = get_scheme(c, body["scheme_id"])
        if currency != scheme.currency:
            raise CurrencyMismatch(f"the scheme lends in {scheme.currency}", field="amount")
        record = apply(c, partner, principal_minor=amount, now=now, **body)
        return application_view(record, scheme.currency)

    return database().run(work)


@blp.route("/loan-applications", methods=["GET"])
@requires("partner", "fund_manager", "admin")
@blp.arguments(ApplicationListArgs(), location="query")
@blp.response(200, page_of(ApplicationSchema))
def applications_index(args: dict[str, Any]) -> dict[str, Any]:
    """Your applications (partners), or those of the schemes you manage, newest first."""
    caller = principal()
    after = parse_cursor_uuid(args.pop("starting_after", None))

    def read(c: Any) -> tuple[list[dict[str, Any]], bool]:
        scope: dict[str, Any] = (
            {"partner_id": caller.id}
            if caller.role == "partner"
            else {"scheme_ids": _managed_scheme_ids(c, caller)}
        )
        records, more = list_applications(c, starting_after=after, **scope, **args)
        currencies = {s.id: s.currency for s in list_schemes(c)}
        return [application_view(r, currencies[r.scheme_id]) for r in records], more

    items, more = database().run(read)
    return page(items, more)


@blp.route("/loan-applications/<application_id>", methods=["GET"])
@requires("partner", "fund_manager", "admin")
@blp.response(200, ApplicationSchema)
def show_application(application_id: str) -> dict[str, Any]:
    caller, aid = principal(), _application_id(application_id)

    def read(c: Any) -> dict[str, Any]:
        found = _visible_application(c, caller, aid)
        return application_view(found, get_scheme(c, found.scheme_id).currency)

    return database().run(read)


def _decide(application_id: str, approve: bool, note: str | None) -> dict[str, Any]:
    manager, aid, now = principal(), _application_id(application_id), clock().now()

    def work(c: Any) -> dict[str, Any]:
        _visible_application(c, manager, aid)
        record = decide(c, manager, aid, approve=approve, note=note, now=now)
        return application_view(record, get_scheme(c, record.scheme_id).currency)

    return database().run(work)


@blp.route("/loan-applications/<application_id>/approve", methods=["POST"])
@requires("fund_manager")
@idempotent(required=False)
@blp.arguments(DecisionSchema(), required=False)
@blp.response(200, ApplicationSchema)
def approve_application(body: dict[str, Any], application_id: str) -> dict[str, Any]:
    """Approve (your scheme's fund must have the cash; it is committed)."""
    return _decide(application_id, True, body.get("note"))


@blp.route("/loan-applications/<application_id>/decline", methods=["POST"])
@requires("fund_manager")
@idempotent(required=False)
@blp.arguments(DecisionSchema(), required=False)
@blp.response(200, ApplicationSchema)
def decline_application(body: dict[str, Any], application_id: str) -> dict[str, Any]:
    return _decide(application_id, False, body.get("note"))


@blp.route("/loan-applications/<application_id>/cancel", methods=["POST"])
@requires("partner", "fund_manager")
@idempotent(required=False)
@blp.arguments(DecisionSchema(), required=False)
@blp.response(200, ApplicationSchema)
def cancel_application_route(body: dict[str, Any], application_id: str) -> dict[str, Any]:
    """Withdraw an application that is not disbursed (the partner that made it, or the
    scheme's manager); an approved one gives its committed cash back to the fund."""
    caller, aid, now = principal(), _application_id(application_id), clock().now()

    def work(c: Any) -> dict[str, Any]:
        _visible_application(c, caller, aid)
        record = cancel_application(c, caller, aid, note=body.get("note"), now=now)
        return application_view(record, get_scheme(c, record.scheme_id).currency)

    return database().run(work)


_LOAN_DETAIL = LoanDetailSchema()


@blp.route("/loan-applications/<application_id>/disburse", methods=["POST"])
@requires("fund_manager")
@idempotent(required=True)
@blp.arguments(DisbursementSchema(), required=False)
@blp.response(201, LoanDetailSchema)
def disburse_application(body: dict[str, Any], application_id: str) -> Response:
    """Pay the approved loan out to the borrower's account; its schedule is fixed now."""
    manager, aid, now = principal(), _application_id(application_id), clock().now()

    def work(c: Any) -> dict[str, Any]:
        _visible_application(c, manager, aid)
        loan = disburse(c, manager, aid, now=now, **body)
        return loan_detail(c, loan, now.date())

    return run_recorded(work, lambda detail: json_response(detail, 201, _LOAN_DETAIL))


# ------------------------------------------------------------------ loans


@blp.route("/loans", methods=["GET"])
@requires("partner", "fund_manager", "admin")
@blp.arguments(LoanListArgs(), location="query")
@blp.response(200, page_of(LoanSchema))
def loans_index(args: dict[str, Any]) -> dict[str, Any]:
    caller = principal()
    after = parse_cursor_uuid(args.pop("starting_after", None))

    def read(c: Any) -> tuple[list[LoanRecord], bool]:
        scope: dict[str, Any] = (
            {"partner_id": caller.id}
            if caller.role == "partner"
            else {"scheme_ids": _managed_scheme_ids(c, caller)}
        )
        return list_loans(c, starting_after=after, **scope, **args)

    records, more = database().run(read)
    return page([loan_view(r) for r in records], more)


@blp.route("/loans/<loan_id>", methods=["GET"])
@requires("partner", "fund_manager", "admin")
@blp.arguments(DetailArgs(), location="query")
@blp.response(200, LoanDetailSchema)
def show_loan(args: dict[str, Any], loan_id: str) -> dict[str, Any]:
    """Status, outstanding principal, accrued interest, fees, overdue, days past due,
    next due, the schedule paid and unpaid, repayments and the ledger statement."""
    caller, lid = principal(), _loan_id(loan_id)
    as_of = args.get("as_of") or clock().now().date()
    return database().run(lambda c: loan_detail(c, _visible_loan(c, caller, lid), as_of))


_REPAYMENT = RepaymentSchema()


@blp.route("/loans/<loan_id>/repayments", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.arguments(RepaymentCreateSchema())
@blp.response(201, RepaymentSchema)
def create_repayment(body: dict[str, Any], loan_id: str) -> Response:
    """Repay from the borrower's account; the answer says how it was allocated. More
    than what is due prepays principal (the product says how the rest is rescheduled)."""
    partner, lid, now = principal(), _loan_id(loan_id), clock().now()
    amount, currency = money_to_minor(body["amount"])

    def work(c: Any) -> dict[str, Any]:
        loan = get_loan(c, lid, partner_id=partner.id)
        if currency != loan.currency:
            raise CurrencyMismatch(f"the loan is in {loan.currency}", field="amount")
        record = repay(
            c, lid, amount_minor=amount, reference=body["reference"], now=now, partner_id=partner.id
        )
        return repayment_view(record, loan.currency)

    return run_recorded(work, lambda view: json_response(view, 201, _REPAYMENT))


@blp.route("/loans/<loan_id>/sweep", methods=["PUT"])
@requires("partner")
@blp.arguments(SweepSchema())
@blp.response(200, LoanSchema)
def put_sweep(body: dict[str, Any], loan_id: str) -> dict[str, Any]:
    """Opt in to sweep a share of each remittance the borrower receives into the loan
    (capped at what is due, or at all it owes), or out (``percent: null``)."""
    partner, lid = principal(), _loan_id(loan_id)
    percent = None if body["percent"] is None else Decimal(body["percent"])
    return loan_view(
        database().run(lambda c: set_sweep(c, partner.id, lid, percent=percent, cap=body["cap"]))
    )


@blp.route("/loans/<loan_id>/write-off", methods=["POST"])
@requires("fund_manager")
@idempotent(required=True)
@blp.arguments(WriteOffSchema())
@blp.response(200, LoanDetailSchema)
def write_off_loan(body: dict[str, Any], loan_id: str) -> dict[str, Any]:
    """Write the outstanding principal off (the first-loss layer absorbs it first)."""
    manager, lid, now = principal(), _loan_id(loan_id), clock().now()

    def work(c: Any) -> dict[str, Any]:
        _visible_loan(c, manager, lid)
        loan = write_off(c, manager, lid, now=now, reason=body["reason"])
        return loan_detail(c, loan, now.date())

    return database().run(work)
