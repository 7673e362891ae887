"""Credit schemes for fund managers: schemes, matching rules, contributions, products,
the fund's position; schedule previews for everyone (partner channels show them)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Response
from marshmallow import ValidationError, fields, validate, validates_schema

from api.auth import requires
from api.context import clock, database, principal, settings
from api.idempotency import idempotent
from api.resources import Blueprint, parse_uuid
from api.schemas import (
    CURRENCY_PATTERN,
    BaseSchema,
    Country,
    Day,
    DecimalString,
    MoneySchema,
    Timestamp,
    decimal_text,
    money,
    money_to_minor,
)
from ledger.credit.products import ProductRecord, create_product, get_product, list_products
from ledger.credit.provisioning import rates_for, set_provisioning
from ledger.credit.schedule import (
    AMORTIZATIONS,
    DAY_COUNTS,
    FREQUENCIES,
    INSTALLMENTS_MAX,
    INTEREST_METHODS,
    INTEREST_PERIODS,
    Schedule,
    ScheduleTerms,
    generate,
)
from ledger.credit.schemes import (
    ContributionRecord,
    FundPosition,
    SchemeRecord,
    add_matching_rule,
    create_scheme,
    fund_position,
    get_scheme,
    list_contributions,
    list_schemes,
    pledge,
    receive,
    require_manager,
)
from ledger.credit.terms import (
    ALLOCATION_ORDERS,
    FEE_KINDS,
    PREPAYMENTS,
    Charge,
    ProductTerms,
    ScoringRules,
    terms_to_json,
)
from ledger.errors import CurrencyMismatch
from ledger.limits import FULL_NAME_LENGTH_MAX, PARTNER_REFERENCE_LENGTH_MAX
from ledger.money import from_minor

blp = Blueprint("schemes", __name__, url_prefix="/v1", description="Credit schemes")


class SchemeCreateSchema(BaseSchema):
    slug = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9\-]{0,63}$"))
    name = fields.String(required=True, validate=validate.Length(1, FULL_NAME_LENGTH_MAX))
    currency = fields.String(required=True, validate=validate.Regexp(CURRENCY_PATTERN))
    country = Country(required=True)
    first_loss_percent = DecimalString(
        load_default="0",
        metadata={"description": "of the principal ever disbursed, absorbed first by sponsors"},
    )


class SchemeSchema(SchemeCreateSchema):
    id = fields.UUID(required=True)
    manager_id = fields.UUID(required=True)
    accounts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    created_at = Timestamp(required=True)


class SchemeListSchema(BaseSchema):
    data = fields.List(fields.Nested(SchemeSchema), required=True)


class MatchingRuleSchema(BaseSchema):
    sponsor_name = fields.String(required=True, validate=validate.Length(1, FULL_NAME_LENGTH_MAX))
    ratio = DecimalString(required=True, metadata={"description": "1 is 1:1", "example": "1"})
    cap = fields.Nested(MoneySchema, required=True)


class MatchingRuleOutSchema(MatchingRuleSchema):
    id = fields.UUID(required=True)
    created_at = Timestamp(required=True)


class PledgeSchema(BaseSchema):
    kind = fields.String(
        load_default="investor", validate=validate.OneOf(("investor", "first_loss"))
    )
    reference = fields.String(
        required=True, validate=validate.Length(1, PARTNER_REFERENCE_LENGTH_MAX)
    )
    investor_name = fields.String(required=True, validate=validate.Length(1, FULL_NAME_LENGTH_MAX))
    amount = fields.Nested(MoneySchema, required=True)


class ContributionSchema(BaseSchema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    reference = fields.String(required=True)
    investor_name = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    status = fields.String(required=True)
    matches_id = fields.UUID(allow_none=True, required=True)
    transaction_id = fields.UUID(allow_none=True, required=True)
    created_at = Timestamp(required=True)
    received_at = Timestamp(allow_none=True, required=True)


class ContributionListSchema(BaseSchema):
    data = fields.List(fields.Nested(ContributionSchema), required=True)


class InvestorShareSchema(BaseSchema):
    name = fields.String(required=True)
    capital = fields.Nested(MoneySchema, required=True)
    share_percent = fields.String(required=True)


class FundPositionSchema(BaseSchema):
    capital = fields.Nested(MoneySchema, required=True)
    first_loss = fields.Nested(MoneySchema, required=True)
    cash = fields.Nested(MoneySchema, required=True)
    committed = fields.Nested(MoneySchema, required=True)
    disbursed_outstanding = fields.Nested(MoneySchema, required=True)
    available = fields.Nested(MoneySchema, required=True)
    pledged = fields.Nested(MoneySchema, required=True)
    investors = fields.List(fields.Nested(InvestorShareSchema), required=True)


class ProductChargeSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(FEE_KINDS))
    value = DecimalString(
        required=True,
        metadata={"description": "percent: a fraction (0.02 is 2%); flat: major units"},
    )


class ScoringSchema(BaseSchema):
    min_regular_months = fields.Integer(load_default=6, validate=validate.Range(0, 12))
    max_amount_multiple = DecimalString(load_default="6")
    max_installment_share = DecimalString(load_default="0.3")
    max_volatility = DecimalString(allow_none=True, load_default=None)


class ScheduleTermsSchema(BaseSchema):
    annual_rate_percent = DecimalString(required=True, metadata={"example": "24"})
    frequency = fields.String(load_default="monthly", validate=validate.OneOf(FREQUENCIES))
    interest_method = fields.String(
        load_default="declining_balance", validate=validate.OneOf(INTEREST_METHODS)
    )
    amortization = fields.String(
        load_default="equal_installments", validate=validate.OneOf(AMORTIZATIONS)
    )
    interest_period = fields.String(
        load_default="repayment_period", validate=validate.OneOf(INTEREST_PERIODS)
    )
    day_count = fields.String(load_default="actual/365", validate=validate.OneOf(DAY_COUNTS))
    grace_on_principal = fields.Integer(
        load_default=0, validate=validate.Range(0, INSTALLMENTS_MAX)
    )
    grace_on_interest = fields.Integer(load_default=0, validate=validate.Range(0, INSTALLMENTS_MAX))
    installment_multiple = fields.Nested(
        MoneySchema, metadata={"description": "installments rounded to multiples of this"}
    )


class ProductCreateSchema(ScheduleTermsSchema):
    name = fields.String(required=True, validate=validate.Length(1, FULL_NAME_LENGTH_MAX))
    min_amount = fields.Nested(MoneySchema, required=True)
    max_amount = fields.Nested(MoneySchema, required=True)
    min_installments = fields.Integer(required=True, validate=validate.Range(1, INSTALLMENTS_MAX))
    max_installments = fields.Integer(required=True, validate=validate.Range(1, INSTALLMENTS_MAX))
    origination_fee = fields.Nested(ProductChargeSchema)
    late_fee = fields.Nested(ProductChargeSchema)
    late_fee_after_days = fields.Integer(load_default=7, validate=validate.Range(0, 365))
    allocation_order = fields.String(
        load_default="penalties_fees_interest_principal",
        validate=validate.OneOf(tuple(ALLOCATION_ORDERS)),
    )
    prepayment = fields.String(load_default="reduce_term", validate=validate.OneOf(PREPAYMENTS))
    scoring = fields.Nested(ScoringSchema, load_default=dict)


class ProductSchema(BaseSchema):
    id = fields.UUID(required=True)
    scheme_id = fields.UUID(required=True)
    name = fields.String(required=True)
    terms = fields.Dict(required=True, metadata={"description": "the product's terms as stored"})
    created_at = Timestamp(required=True)


class ProductListSchema(BaseSchema):
    data = fields.List(fields.Nested(ProductSchema), required=True)


class PreviewSchema(BaseSchema):
    product_id = fields.UUID(metadata={"description": "a product's terms; or give them here"})
    terms = fields.Nested(ScheduleTermsSchema)
    currency = fields.String(validate=validate.Regexp(CURRENCY_PATTERN))
    amount = fields.Nested(MoneySchema, required=True)
    installments = fields.Integer(required=True, validate=validate.Range(1, INSTALLMENTS_MAX))
    disbursement_date = Day(metadata={"description": "default: today"})
    first_due_date = Day()
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))

    @validates_schema
    def _terms_or_product(self, data: dict[str, Any], **_: Any) -> None:
        if ("product_id" in data) == ("terms" in data):
            raise ValidationError("give a product_id or terms", "product_id")


class ScheduleInstallmentSchema(BaseSchema):
    number = fields.Integer(required=True)
    period_start = fields.Date(required=True)
    due_date = fields.Date(required=True)
    principal = fields.Nested(MoneySchema, required=True)
    interest = fields.Nested(MoneySchema, required=True)
    fees = fields.Nested(MoneySchema, required=True)
    total = fields.Nested(MoneySchema, required=True)
    balance_after = fields.Nested(MoneySchema, required=True)


class RepaymentScheduleSchema(BaseSchema):
    currency = fields.String(required=True)
    principal = fields.Nested(MoneySchema, required=True)
    installment_amount = fields.Nested(MoneySchema, allow_none=True, required=True)
    total_interest = fields.Nested(MoneySchema, required=True)
    total = fields.Nested(MoneySchema, required=True)
    installments = fields.List(fields.Nested(ScheduleInstallmentSchema), required=True)


# ------------------------------------------------------------------ views


def scheme_view(record: SchemeRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "slug": record.slug,
        "name": record.name,
        "currency": record.currency,
        "country": record.country,
        "first_loss_percent": decimal_text(record.first_loss_percent),
        "manager_id": record.manager_id,
        "accounts": record.accounts,
        "created_at": record.created_at,
    }


def contribution_view(record: ContributionRecord, currency: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "reference": record.reference,
        "investor_name": record.investor_name,
        "amount": money(record.amount_minor, currency),
        "status": record.status,
        "matches_id": record.matches_id,
        "transaction_id": record.transaction_id,
        "created_at": record.created_at,
        "received_at": record.received_at,
    }


def position_view(position: FundPosition) -> dict[str, Any]:
    c = position.currency
    return {
        "capital": money(position.capital_minor, c),
        "first_loss": money(position.first_loss_minor, c),
        "cash": money(position.cash_minor, c),
        "committed": money(position.committed_minor, c),
        "disbursed_outstanding": money(position.portfolio_minor, c),
        "available": money(position.available_minor, c),
        "pledged": money(position.pledged_minor, c),
        "investors": [
            {
                "name": i.name,
                "capital": money(i.capital_minor, c),
                "share_percent": decimal_text(i.share_percent),
            }
            for i in position.investors
        ],
    }


def product_view(record: ProductRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "scheme_id": record.scheme_id,
        "name": record.name,
        "terms": terms_to_json(record.terms),
        "created_at": record.created_at,
    }


def schedule_view(schedule: Schedule) -> dict[str, Any]:
    c = schedule.currency
    return {
        "currency": c,
        "principal": money(schedule.principal_minor, c),
        "installment_amount": (
            money(schedule.installment_minor, c) if schedule.installment_minor is not None else None
        ),
        "total_interest": money(schedule.total_interest_minor, c),
        "total": money(schedule.total_minor, c),
        "installments": [
            {
                "number": i.number,
                "period_start": i.period_start,
                "due_date": i.due_date,
                "principal": money(i.principal_minor, c),
                "interest": money(i.interest_minor, c),
                "fees": money(i.fee_minor, c),
                "total": money(i.total_minor, c),
                "balance_after": money(i.balance_after_minor, c),
            }
            for i in schedule.installments
        ],
    }


def schedule_csv(schedule: Schedule) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "number",
            "period_start",
            "due_date",
            "principal",
            "interest",
            "fees",
            "total",
            "balance_after",
        ]
    )
    c = schedule.currency
    for i in schedule.installments:
        writer.writerow(
            [
                i.number,
                i.period_start.isoformat(),
                i.due_date.isoformat(),
                from_minor(i.principal_minor, c),
                from_minor(i.interest_minor, c),
                from_minor(i.fee_minor, c),
                from_minor(i.total_minor, c),
                from_minor(i.balance_after_minor, c),
            ]
        )
    return out.getvalue()


# ------------------------------------------------------------------ parsing


def _minor_in(value: dict[str, str], currency: str, field: str) -> int:
    amount, given = money_to_minor(value)
    if given != currency:
        raise CurrencyMismatch(f"{field} is in {currency}, not {given}", field=field)
    return amount


def schedule_terms(body: dict[str, Any], currency: str) -> ScheduleTerms:
    multiple = body.get("installment_multiple")
    return ScheduleTerms(
        currency=currency,
        annual_rate_percent=Decimal(body["annual_rate_percent"]),
        frequency=body["frequency"],
        interest_method=body["interest_method"],
        amortization=body["amortization"],
        interest_period=body["interest_period"],
        day_count=body["day_count"],
        grace_on_principal=body["grace_on_principal"],
        grace_on_interest=body["grace_on_interest"],
        installment_multiple_minor=(
            _minor_in(multiple, currency, "installment_multiple") if multiple else None
        ),
    )


def _charge(body: dict[str, Any] | None, currency: str) -> Charge | None:
    if body is None:
        return None
    if body["kind"] == "flat":
        return Charge(
            "flat",
            Decimal(_minor_in({"amount": body["value"], "currency": currency}, currency, "fee")),
        )
    return Charge("percent", Decimal(body["value"]))


def product_terms(body: dict[str, Any], currency: str) -> ProductTerms:
    scoring = body["scoring"]
    terms = ProductTerms(
        currency=currency,
        min_principal_minor=_minor_in(body["min_amount"], currency, "min_amount"),
        max_principal_minor=_minor_in(body["max_amount"], currency, "max_amount"),
        min_installments=body["min_installments"],
        max_installments=body["max_installments"],
        schedule=schedule_terms(body, currency),
        late_fee_after_days=body["late_fee_after_days"],
        allocation_order=body["allocation_order"],
        prepayment=body["prepayment"],
        scoring=ScoringRules(
            min_regular_months=scoring.get("min_regular_months", 6),
            max_amount_multiple=Decimal(scoring.get("max_amount_multiple", "6")),
            max_installment_share=Decimal(scoring.get("max_installment_share", "0.3")),
            max_volatility=(
                Decimal(scoring["max_volatility"]) if scoring.get("max_volatility") else None
            ),
        ),
    )
    changes = {}
    for name in ("origination_fee", "late_fee"):
        charge = _charge(body.get(name), currency)
        if charge is not None:
            changes[name] = charge
    return replace(terms, **changes)


def _scheme_id(value: str) -> uuid.UUID:
    return parse_uuid(value, "scheme", "scheme_not_found")


def _managed(connection: Any, scheme_id: uuid.UUID) -> SchemeRecord:
    scheme = get_scheme(connection, scheme_id)
    require_manager(scheme, principal())
    return scheme


# ------------------------------------------------------------------ routes


@blp.route("/schemes", methods=["POST"])
@requires("fund_manager")
@idempotent(required=False)
@blp.arguments(SchemeCreateSchema())
@blp.response(201, SchemeSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """Open a credit scheme (fund) that you manage, with its accounts."""
    manager, now = principal(), clock().now()
    body["first_loss_percent"] = Decimal(body["first_loss_percent"])
    return scheme_view(database().run(lambda c: create_scheme(c, manager, now=now, **body)))


@blp.route("/schemes", methods=["GET"])
@requires("admin", "partner", "fund_manager")
@blp.response(200, SchemeListSchema)
def index() -> dict[str, Any]:
    """Every scheme (partners show them to applicants)."""
    return {"data": [scheme_view(s) for s in database().run(list_schemes)]}


@blp.route("/schemes/<scheme_id>", methods=["GET"])
@requires("admin", "partner", "fund_manager")
@blp.response(200, SchemeSchema)
def show(scheme_id: str) -> dict[str, Any]:
    sid = _scheme_id(scheme_id)
    return scheme_view(database().run(lambda c: get_scheme(c, sid)))


@blp.route("/schemes/<scheme_id>/position", methods=["GET"])
@requires("admin", "fund_manager")
@blp.response(200, FundPositionSchema)
def position(scheme_id: str) -> dict[str, Any]:
    """Capital, first-loss layer, cash, committed, disbursed, available, by investor."""
    sid = _scheme_id(scheme_id)
    return position_view(database().run(lambda c: fund_position(c, _managed(c, sid))))


class ProvisioningSchema(BaseSchema):
    rates = fields.Dict(
        keys=fields.String(),
        values=DecimalString(),
        required=True,
        metadata={
            "description": "percent by delinquency bucket; buckets not given keep the default",
            "example": {"current": "1", "1-30": "10", "180+": "100"},
        },
    )


def _provisioning_view(scheme: SchemeRecord) -> dict[str, Any]:
    rates = rates_for(scheme, settings().delinquency_buckets)
    return {"rates": {bucket: format(rate, "f") for bucket, rate in rates.items()}}


@blp.route("/schemes/<scheme_id>/provisioning", methods=["GET"])
@requires("admin", "fund_manager")
@blp.response(200, ProvisioningSchema)
def get_provisioning(scheme_id: str) -> dict[str, Any]:
    """The loss-provisioning rate of each delinquency bucket (the scheme's or default)."""
    sid = _scheme_id(scheme_id)
    return _provisioning_view(database().run(lambda c: _managed(c, sid)))


@blp.route("/schemes/<scheme_id>/provisioning", methods=["PUT"])
@requires("fund_manager")
@blp.arguments(ProvisioningSchema())
@blp.response(200, ProvisioningSchema)
def put_provisioning(body: dict[str, Any], scheme_id: str) -> dict[str, Any]:
    """Set your scheme's provisioning rates; the next loss-reserve job posts the change."""
    sid = _scheme_id(scheme_id)
    rates = {bucket: Decimal(rate) for bucket, rate in body["rates"].items()}
    edges = settings().delinquency_buckets

    def work(c: Any) -> SchemeRecord:
        return set_provisioning(c, _managed(c, sid), rates, edges)

    return _provisioning_view(database().run(work))


@blp.route("/schemes/<scheme_id>/matching-rules", methods=["POST"])
@requires("fund_manager")
@idempotent(required=False)
@blp.arguments(MatchingRuleSchema())
@blp.response(201, MatchingRuleOutSchema)
def create_matching_rule(body: dict[str, Any], scheme_id: str) -> dict[str, Any]:
    """A sponsor matches investors' contributions as they are received."""
    sid, now = _scheme_id(scheme_id), clock().now()

    def work(c: Any) -> dict[str, Any]:
        scheme = _managed(c, sid)
        rule = add_matching_rule(
            c,
            scheme,
            sponsor_name=body["sponsor_name"],
            ratio=Decimal(body["ratio"]),
            cap_minor=_minor_in(body["cap"], scheme.currency, "cap"),
            now=now,
        )
        return {
            "id": rule.id,
            "sponsor_name": rule.sponsor_name,
            "ratio": decimal_text(rule.ratio),
            "cap": money(rule.cap_minor, scheme.currency),
            "created_at": rule.created_at,
        }

    return database().run(work)


@blp.route("/schemes/<scheme_id>/contributions", methods=["POST"])
@requires("fund_manager")
@idempotent(required=False)
@blp.arguments(PledgeSchema())
@blp.response(201, ContributionSchema)
def create_contribution(body: dict[str, Any], scheme_id: str) -> dict[str, Any]:
    """Record a pledge (an investor's, or a sponsor's first-loss layer)."""
    sid, now = _scheme_id(scheme_id), clock().now()

    def work(c: Any) -> dict[str, Any]:
        scheme = _managed(c, sid)
        record = pledge(
            c,
            scheme,
            kind=body["kind"],
            reference=body["reference"],
            investor_name=body["investor_name"],
            amount_minor=_minor_in(body["amount"], scheme.currency, "amount"),
            now=now,
        )
        return contribution_view(record, scheme.currency)

    return database().run(work)


@blp.route("/schemes/<scheme_id>/contributions", methods=["GET"])
@requires("admin", "fund_manager")
@blp.response(200, ContributionListSchema)
def contributions(scheme_id: str) -> dict[str, Any]:
    sid = _scheme_id(scheme_id)

    def read(c: Any) -> dict[str, Any]:
        scheme = _managed(c, sid)
        return {"data": [contribution_view(r, scheme.currency) for r in list_contributions(c, sid)]}

    return database().run(read)


@blp.route("/schemes/<scheme_id>/contributions/<contribution_id>/receive", methods=["POST"])
@requires("fund_manager")
@idempotent(required=True)
@blp.response(200, ContributionListSchema)
def receive_contribution(scheme_id: str, contribution_id: str) -> dict[str, Any]:
    """The pledged money arrived: it is posted, and sponsors' matches are released."""
    sid, now = _scheme_id(scheme_id), clock().now()
    cid = parse_uuid(contribution_id, "contribution", "contribution_not_found")

    def work(c: Any) -> dict[str, Any]:
        scheme = _managed(c, sid)
        return {
            "data": [
                contribution_view(r, scheme.currency) for r in receive(c, scheme, cid, now=now)
            ]
        }

    return database().run(work)


@blp.route("/schemes/<scheme_id>/products", methods=["POST"])
@requires("fund_manager")
@idempotent(required=False)
@blp.arguments(ProductCreateSchema())
@blp.response(201, ProductSchema)
def create_loan_product(body: dict[str, Any], scheme_id: str) -> dict[str, Any]:
    """A loan product: amounts, terms, schedule settings, fees, allocation, scoring."""
    sid, now = _scheme_id(scheme_id), clock().now()

    def work(c: Any) -> ProductRecord:
        scheme = _managed(c, sid)
        return create_product(
            c, scheme, name=body["name"], terms=product_terms(body, scheme.currency), now=now
        )

    return product_view(database().run(work))


@blp.route("/schemes/<scheme_id>/products", methods=["GET"])
@requires("admin", "partner", "fund_manager")
@blp.response(200, ProductListSchema)
def products(scheme_id: str) -> dict[str, Any]:
    sid = _scheme_id(scheme_id)

    def read(c: Any) -> dict[str, Any]:
        get_scheme(c, sid)
        return {"data": [product_view(p) for p in list_products(c, sid)]}

    return database().run(read)


@blp.route("/schedule-previews", methods=["POST"])
@requires("admin", "partner", "fund_manager")
@blp.arguments(PreviewSchema())
@blp.response(200, RepaymentScheduleSchema)
@blp.doc(
    responses={
        "200": {
            "description": "the schedule: JSON, or CSV with format=csv",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
)
def preview(body: dict[str, Any]) -> Any:
    """A repayment plan for given terms, creating nothing: a product's terms
    (``product_id``) or terms given here (with ``currency``)."""

    def build(c: Any) -> Schedule:
        if "product_id" in body:
            terms = get_product(c, body["product_id"]).terms.schedule
        else:
            currency = body.get("currency") or body["amount"]["currency"]
            terms = schedule_terms(body["terms"], currency)
        principal_minor = _minor_in(body["amount"], terms.currency, "amount")
        day: date = body.get("disbursement_date") or clock().now().date()
        return generate(
            terms, principal_minor, body["installments"], day, body.get("first_due_date")
        )

    schedule = database().run(build)
    if body["format"] == "csv":
        return Response(
            schedule_csv(schedule),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="schedule.csv"'},
        )
    return schedule_view(schedule)
