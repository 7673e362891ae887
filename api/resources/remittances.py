"""Remittances of the calling partner: reserve, complete, fail, read; bulk imports of
completed ones; a customer's remittance history."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request
from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, policy, principal
from api.errors import ApiProblem
from api.idempotency import idempotent, run_recorded
from api.resources import Blueprint, parse_cursor_uuid, parse_uuid
from api.resources.corridors import CORRIDOR_CODE
from api.resources.transactions import transaction_json
from api.schemas import (
    BaseSchema,
    Country,
    Day,
    DecimalString,
    MoneySchema,
    PageArgs,
    Timestamp,
    decimal_text,
    json_response,
    money,
    money_to_minor,
    page,
    page_of,
)
from ledger.credit.sweeps import complete_and_sweep
from ledger.journal import get_transaction
from ledger.limits import (
    FULL_NAME_LENGTH_MAX,
    PARTNER_REFERENCE_LENGTH_MAX,
    REASON_LENGTH_MAX,
)
from ledger.money import exponent
from ledger.parties import get_customer
from ledger.remittance.history import HistorySummary
from ledger.remittance.imports import get_import, import_remittances, text_lines
from ledger.remittance.inflows import HISTORY_MONTHS_MAX, remittance_history
from ledger.remittance.models import REMITTANCE_STATUSES
from ledger.remittance.rates import parse_mid_rate
from ledger.remittance.records import RemittanceRecord, RemittanceRequest
from ledger.remittance.remittances import (
    fail_remittance,
    get_remittance,
    list_remittances,
    reserve_remittance,
)

blp = Blueprint("remittances", __name__, url_prefix="/v1", description="Remittances")


class SenderSchema(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(1, FULL_NAME_LENGTH_MAX))
    country = Country(required=True)


class BeneficiarySchema(BaseSchema):
    customer_id = fields.UUID(required=True, metadata={"description": "one of your customers"})
    account_id = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "their account in the receive currency; default: their wallet"},
    )


class RemittanceCreateSchema(BaseSchema):
    partner_reference = fields.String(
        required=True,
        validate=validate.Length(1, PARTNER_REFERENCE_LENGTH_MAX),
        metadata={"description": "your id for it, unique among your remittances"},
    )
    corridor = fields.String(required=True, validate=validate.Regexp(CORRIDOR_CODE))
    sender = fields.Nested(SenderSchema, required=True)
    beneficiary = fields.Nested(BeneficiarySchema, required=True)
    quote_id = fields.UUID(
        metadata={"description": "price it as this quote; or give the next three"}
    )
    send_amount = fields.Nested(MoneySchema)
    fee = fields.Nested(MoneySchema)
    rate = DecimalString(metadata={"description": "the applied rate: 1 send unit = rate receive"})
    receive_amount = fields.Nested(
        MoneySchema, metadata={"description": "optional check: must follow from amount and rate"}
    )
    expires_at = Timestamp(metadata={"description": "when the reservation lapses; default 24 h"})


class FailSchema(BaseSchema):
    reason = fields.String(required=True, validate=validate.Length(1, REASON_LENGTH_MAX))


class RemittanceSchema(BaseSchema):
    id = fields.UUID(required=True)
    partner_reference = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REMITTANCE_STATUSES))
    corridor = fields.String(required=True)
    quote_id = fields.UUID(allow_none=True, required=True)
    sender = fields.Nested(SenderSchema, required=True)
    beneficiary = fields.Nested(BeneficiarySchema, required=True)
    send_amount = fields.Nested(MoneySchema, required=True)
    fee = fields.Nested(MoneySchema, required=True)
    charged_amount = fields.Nested(MoneySchema, required=True)
    receive_amount = fields.Nested(MoneySchema, required=True)
    mid_rate = fields.String(required=True)
    applied_rate = fields.String(required=True)
    rate_date = fields.Date(required=True)
    rate_source = fields.String(required=True)
    total_cost_percent = fields.String(required=True)
    transaction_id = fields.UUID(required=True, metadata={"description": "its journal transaction"})
    source = fields.String(required=True, validate=validate.OneOf(("api", "import")))
    import_id = fields.UUID(allow_none=True, required=True)
    effective_at = Timestamp(required=True)
    created_at = Timestamp(required=True)
    expires_at = Timestamp(allow_none=True, required=True)
    resolved_at = Timestamp(allow_none=True, required=True)
    failure_reason = fields.String(allow_none=True, required=True)


class SweepOutSchema(BaseSchema):
    loan_id = fields.UUID(required=True)
    repayment_id = fields.UUID(required=True)
    amount = fields.Nested(MoneySchema, required=True)


class RemittanceDetailSchema(RemittanceSchema):
    transaction = fields.Dict(
        required=True, metadata={"description": "the journal transaction with its postings"}
    )
    sweeps = fields.List(
        fields.Nested(SweepOutSchema),
        metadata={"description": "completion: what was swept into the beneficiary's loans"},
    )


class RemittanceListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(REMITTANCE_STATUSES))
    corridor = fields.String(validate=validate.Regexp(CORRIDOR_CODE))
    customer_id = fields.UUID(metadata={"description": "the beneficiary"})
    effective_from = Timestamp(data_key="from")
    effective_to = Timestamp(data_key="to")


class HistoryArgs(BaseSchema):
    as_of = Day(metadata={"description": "default: today (UTC)"})
    months = fields.Integer(load_default=12, validate=validate.Range(1, HISTORY_MONTHS_MAX))
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$"))


class MonthSchema(BaseSchema):
    month = fields.String(required=True, metadata={"example": "2026-11"})
    count = fields.Integer(required=True)
    amount = fields.Nested(MoneySchema, required=True)


class HistorySchema(BaseSchema):
    currency = fields.String(required=True)
    months = fields.List(fields.Nested(MonthSchema), required=True)
    regularity = fields.Integer(
        required=True, metadata={"description": "months with at least one inflow"}
    )
    total = fields.Nested(MoneySchema, required=True)
    average_monthly = fields.String(
        required=True,
        metadata={"description": "major units, months without inflows included (a statistic)"},
    )
    volatility = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "coefficient of variation; null if nothing arrived"},
    )


class HistoryListSchema(BaseSchema):
    customer_id = fields.UUID(required=True)
    as_of = fields.Date(required=True)
    data = fields.List(fields.Nested(HistorySchema), required=True)


class RejectionSchema(BaseSchema):
    line = fields.Integer(required=True)
    partner_reference = fields.String(allow_none=True, required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)


class ImportSchema(BaseSchema):
    id = fields.UUID(required=True)
    filename = fields.String(required=True)
    file_sha256 = fields.String(required=True)
    rows_total = fields.Integer(required=True)
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    rejections = fields.List(fields.Nested(RejectionSchema), required=True)
    rejections_truncated = fields.Boolean(required=True)
    created_at = Timestamp(required=True)


def remittance_view(record: RemittanceRecord) -> dict[str, Any]:
    send, receive = record.send_currency, record.receive_currency
    return {
        "id": record.id,
        "partner_reference": record.partner_reference,
        "status": record.status,
        "corridor": record.corridor_code,
        "quote_id": record.quote_id,
        "sender": {"name": record.sender_name, "country": record.sender_country},
        "beneficiary": {
            "customer_id": record.beneficiary_customer_id,
            "account_id": record.beneficiary_account_id,
        },
        "send_amount": money(record.send_minor, send),
        "fee": money(record.fee_minor, send),
        "charged_amount": money(record.charged_minor, send),
        "receive_amount": money(record.receive_minor, receive),
        "mid_rate": decimal_text(record.mid_rate),
        "applied_rate": decimal_text(record.applied_rate),
        "rate_date": record.rate_date,
        "rate_source": record.rate_source,
        "total_cost_percent": decimal_text(record.total_cost_percent),
        "transaction_id": record.transaction_id,
        "source": record.source,
        "import_id": record.import_id,
        "effective_at": record.effective_at,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "resolved_at": record.resolved_at,
        "failure_reason": record.failure_reason,
    }


def _detail(connection: Any, record: RemittanceRecord) -> dict[str, Any]:
    view = remittance_view(record)
    transaction = record.transaction or get_transaction(connection, record.transaction_id)
    view["transaction"] = transaction_json(transaction)
    return view


def _request(body: dict[str, Any]) -> RemittanceRequest:
    return RemittanceRequest(
        partner_reference=body["partner_reference"],
        corridor_code=body["corridor"],
        sender_name=body["sender"]["name"],
        sender_country=body["sender"]["country"],
        beneficiary_customer_id=body["beneficiary"]["customer_id"],
        beneficiary_account_id=body["beneficiary"].get("account_id"),
        quote_id=body.get("quote_id"),
        send=money_to_minor(body["send_amount"]) if "send_amount" in body else None,
        fee=money_to_minor(body["fee"]) if "fee" in body else None,
        applied_rate=parse_mid_rate(body["rate"], "rate") if "rate" in body else None,
        receive=money_to_minor(body["receive_amount"]) if "receive_amount" in body else None,
        expires_at=body.get("expires_at"),
    )


_DETAIL = RemittanceDetailSchema()


@blp.route("/remittances", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.arguments(RemittanceCreateSchema())
@blp.response(201, RemittanceDetailSchema)
def create(body: dict[str, Any]) -> Response:
    """Reserve a remittance: priced by ``quote_id`` or by your own ``send_amount``,
    ``fee`` and ``rate``; your liquidity in the send currency is held at once. The
    same ``partner_reference`` with the same content answers 200 with the existing
    remittance; with other content, 409 remittance_exists."""
    partner, now = principal(), clock().now()
    remittance_request = _request(body)

    def work(connection: Any) -> tuple[dict[str, Any], int]:
        record = reserve_remittance(
            connection, partner, remittance_request, now=now, policy=policy()
        )
        return _detail(connection, record), 200 if record.replayed else 201

    return run_recorded(work, lambda result: json_response(*result, _DETAIL))


@blp.route("/remittances", methods=["GET"])
@requires("partner")
@blp.arguments(RemittanceListArgs(), location="query")
@blp.response(200, page_of(RemittanceSchema))
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Your remittances, newest first."""
    partner = principal()
    after = parse_cursor_uuid(args.pop("starting_after", None))
    args["corridor_code"] = args.pop("corridor", None)
    records, more = database().run(
        lambda c: list_remittances(c, partner.id, starting_after=after, **args)
    )
    return page([remittance_view(r) for r in records], more)


def _remittance_id(value: str) -> uuid.UUID:
    return parse_uuid(value, "remittance", "remittance_not_found")


@blp.route("/remittances/<remittance_id>", methods=["GET"])
@requires("partner")
@blp.response(200, RemittanceDetailSchema)
def show(remittance_id: str) -> dict[str, Any]:
    """A remittance with its journal transaction (quote to payout, in one place)."""
    partner, rid = principal(), _remittance_id(remittance_id)
    return database().run(lambda c: _detail(c, get_remittance(c, partner.id, rid)))


@blp.route("/remittances/<remittance_id>/complete", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.response(200, RemittanceDetailSchema)
def complete(remittance_id: str) -> Response:
    """Pay out: the reservation is posted (beneficiary credited, fee earned), and the
    share the beneficiary opted in to is swept into their loans (``sweeps``)."""
    partner, rid, now = principal(), _remittance_id(remittance_id), clock().now()

    def work(connection: Any) -> dict[str, Any]:
        record, swept = complete_and_sweep(connection, partner.id, rid, now=now)
        detail = _detail(connection, record)
        detail["sweeps"] = [
            {
                "loan_id": repayment.loan_id,
                "repayment_id": repayment.id,
                "amount": money(repayment.amount_minor, record.receive_currency),
            }
            for repayment in swept
        ]
        return detail

    return run_recorded(work, lambda body: json_response(body, 200, _DETAIL))


@blp.route("/remittances/<remittance_id>/fail", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.arguments(FailSchema())
@blp.response(200, RemittanceDetailSchema)
def fail(body: dict[str, Any], remittance_id: str) -> Response:
    """Give up: the reservation is voided and your liquidity released."""
    partner, rid, now = principal(), _remittance_id(remittance_id), clock().now()

    def work(connection: Any) -> dict[str, Any]:
        record = fail_remittance(connection, partner.id, rid, reason=body["reason"], now=now)
        return _detail(connection, record)

    return run_recorded(work, lambda result: json_response(result, 200, _DETAIL))


# ------------------------------------------------------------------ history


def history_view(summary: HistorySummary) -> dict[str, Any]:
    currency = summary.currency
    return {
        "currency": currency,
        "months": [
            {
                "month": month.month.strftime("%Y-%m"),
                "count": month.count,
                "amount": money(month.amount_minor, currency),
            }
            for month in summary.months
        ],
        "regularity": summary.regularity,
        "total": money(summary.total_minor, currency),
        "average_monthly": decimal_text(summary.average_minor.scaleb(-exponent(currency))),
        "volatility": decimal_text(summary.volatility),
    }


@blp.route("/customers/<customer_id>/remittance-history", methods=["GET"])
@requires("partner")
@blp.arguments(HistoryArgs(), location="query")
@blp.response(200, HistoryListSchema)
def history(args: dict[str, Any], customer_id: str) -> dict[str, Any]:
    """Monthly inflows of completed remittances to your customer, in each receive
    currency (or one), with regularity, average and volatility: what credit scoring
    reads."""
    partner = principal()
    cid = parse_uuid(customer_id, "customer", "customer_not_found")
    as_of = args.get("as_of") or clock().now().date()

    def read(connection: Any) -> list[HistorySummary]:
        get_customer(connection, partner.id, cid)  # yours, or not found
        return remittance_history(
            connection, cid, as_of=as_of, months=args["months"], currency=args.get("currency")
        )

    summaries = database().run(read)
    return {"customer_id": cid, "as_of": as_of, "data": [history_view(s) for s in summaries]}


# ------------------------------------------------------------------ imports


def import_view(row: dict[str, Any]) -> dict[str, Any]:
    report = row["report"] or {}
    return {
        "id": row["id"],
        "filename": row["filename"],
        "file_sha256": row["file_sha256"],
        "rows_total": row["rows_total"],
        "accepted": row["accepted"],
        "duplicates": row["duplicates"],
        "rejected": row["rejected"],
        "rejections": report.get("rejections", []),
        "rejections_truncated": report.get("rejections_truncated", False),
        "created_at": row["created_at"],
    }


CSV_TYPES = ("text/csv", "application/csv", "text/plain")


@blp.route("/remittance-imports", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.doc(
    requestBody={
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        "description": "a CSV file of completed remittances (see the README for columns)",
    }
)
@blp.response(201, ImportSchema)
def create_import(**_: Any) -> dict[str, Any]:
    """Import a CSV file of completed remittances (body: the file, ``text/csv``). Each
    row is checked like ``POST /v1/remittances``; the answer counts accepted,
    duplicate (already imported, same content) and rejected rows, with each
    rejection's line and reason. Larger files than the request limit: the CLI."""
    if request.mimetype not in CSV_TYPES:
        raise ApiProblem(
            415, "unsupported_media_type", "send the file as text/csv (the body is the file)"
        )
    partner, now = principal(), clock().now()
    filename = request.headers.get("X-Filename", "upload.csv")
    report = import_remittances(
        database(),
        partner,
        text_lines(request.get_data(cache=True)),
        filename=filename,
        now=now,
        policy=policy(),
    )
    return database().run(lambda c: import_view(get_import(c, partner.id, report.id)))


@blp.route("/remittance-imports/<import_id>", methods=["GET"])
@requires("partner")
@blp.response(200, ImportSchema)
def show_import(import_id: str) -> dict[str, Any]:
    partner = principal()
    iid = parse_uuid(import_id, "import", "import_not_found")
    return database().run(lambda c: import_view(get_import(c, partner.id, iid)))
