"""Partner liquidity: a partner reads its own positions and settlement statements;
administrators configure caps, record top-ups and withdrawals, and read any
partner's."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import Response
from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, principal
from api.idempotency import idempotent
from api.resources import Blueprint, parse_uuid
from api.schemas import (
    BaseSchema,
    Day,
    MoneySchema,
    SignedMoneySchema,
    Timestamp,
    decimal_text,
    money,
    money_to_minor,
)
from ledger.access import get_principal
from ledger.access.principals import PrincipalNotFound, PrincipalRecord
from ledger.errors import CurrencyMismatch, LedgerError, LiquidityNotConfigured
from ledger.limits import REASON_LENGTH_MAX
from ledger.money import validate_currency
from ledger.remittance.liquidity import (
    ADJUSTMENT_KINDS,
    DEFAULT_ALARM_THRESHOLD_PERCENT,
    LiquidityPosition,
    SettlementDay,
    adjust_liquidity,
    configure_liquidity,
    positions,
    settlement_statement,
    statement_csv,
)

blp = Blueprint("liquidity", __name__, url_prefix="/v1", description="Partner liquidity")


class LiquidityConfigSchema(BaseSchema):
    net_debit_cap = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "how far below zero the position may go; 0: prefunded only"},
    )
    alarm_threshold_percent = fields.Integer(
        load_default=DEFAULT_ALARM_THRESHOLD_PERCENT,
        strict=True,
        validate=validate.Range(1, 100),
        metadata={"description": "alarm when this share of the cap is in use"},
    )


class AdjustmentSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(ADJUSTMENT_KINDS))
    amount = fields.Nested(MoneySchema, required=True)
    reference = fields.String(
        required=True,
        validate=validate.Length(1, REASON_LENGTH_MAX),
        metadata={"description": "the bank transfer's reference; one adjustment per reference"},
    )
    effective_at = Timestamp(metadata={"description": "business time; default now"})


class AdjustmentResultSchema(BaseSchema):
    kind = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    reference = fields.String(required=True)
    transaction_id = fields.UUID(required=True)
    position = fields.Dict(required=True)


class PositionSchema(BaseSchema):
    currency = fields.String(required=True)
    settlement_account_id = fields.Integer(required=True)
    fee_account_id = fields.Integer(required=True)
    posted = fields.Nested(SignedMoneySchema, required=True)
    reserved = fields.Nested(SignedMoneySchema, required=True)
    available = fields.Nested(SignedMoneySchema, required=True)
    net_debit_cap = fields.Nested(MoneySchema, required=True)
    headroom = fields.Nested(
        SignedMoneySchema,
        required=True,
        metadata={"description": "available + cap: the largest remittance that passes now"},
    )
    cap_used = fields.Nested(MoneySchema, required=True)
    cap_used_percent = fields.String(
        allow_none=True, required=True, metadata={"description": "rounded down; null: no cap"}
    )
    alarm_threshold_percent = fields.Integer(required=True)
    alarm = fields.Boolean(required=True)
    fees_earned = fields.Nested(SignedMoneySchema, required=True)


class PositionListSchema(BaseSchema):
    partner_id = fields.UUID(required=True)
    data = fields.List(fields.Nested(PositionSchema), required=True)


class SettlementStatementArgs(BaseSchema):
    start = Day(required=True, data_key="from")
    end = Day(required=True, data_key="to")
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class SettlementDaySchema(BaseSchema):
    date = fields.Date(required=True)
    opening = fields.Nested(SignedMoneySchema, required=True)
    remittances_count = fields.Integer(required=True)
    remittances = fields.Nested(MoneySchema, required=True)
    fees = fields.Nested(MoneySchema, required=True)
    adjustments = fields.Nested(SignedMoneySchema, required=True)
    closing = fields.Nested(SignedMoneySchema, required=True)


class SettlementStatementSchema(BaseSchema):
    partner_id = fields.UUID(required=True)
    currency = fields.String(required=True)
    data = fields.List(fields.Nested(SettlementDaySchema), required=True)


def position_view(position: LiquidityPosition) -> dict[str, Any]:
    currency = position.currency
    return {
        "currency": currency,
        "settlement_account_id": position.settlement_account_id,
        "fee_account_id": position.fee_account_id,
        "posted": money(position.posted_minor, currency),
        "reserved": money(position.reserved_minor, currency),
        "available": money(position.available_minor, currency),
        "net_debit_cap": money(position.net_debit_cap_minor, currency),
        "headroom": money(position.headroom_minor, currency),
        "cap_used": money(position.cap_used_minor, currency),
        "cap_used_percent": decimal_text(position.cap_used_percent),
        "alarm_threshold_percent": position.alarm_threshold_percent,
        "alarm": position.alarm,
        "fees_earned": money(position.fees_earned_minor, currency),
    }


def day_view(day: SettlementDay) -> dict[str, Any]:
    currency = day.currency
    return {
        "date": day.day,
        "opening": money(day.opening_minor, currency),
        "remittances_count": day.remittances_count,
        "remittances": money(day.remittances_minor, currency),
        "fees": money(day.fees_minor, currency),
        "adjustments": money(day.adjustments_minor, currency),
        "closing": money(day.closing_minor, currency),
    }


def _currency(value: str) -> str:
    """A currency in a path; an unknown one is answered like a missing position."""
    try:
        return validate_currency(value)
    except LedgerError:
        raise LiquidityNotConfigured(
            f"no settlement account in {value!r}", currency=value
        ) from None


def _partner(connection: Any, partner_id: uuid.UUID) -> PrincipalRecord:
    record = get_principal(connection, partner_id)
    if record.role != "partner":
        raise PrincipalNotFound(f"partner {partner_id} does not exist")
    return record


def _statement(partner_id: uuid.UUID, currency: str, args: dict[str, Any]) -> Any:
    start: date = args["start"]
    end: date = args["end"]
    days = database().run(
        lambda c: settlement_statement(c, partner_id, currency, start=start, end=end)
    )
    if args["format"] == "csv":
        response = Response(statement_csv(days), mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="settlement-{currency}-{start}-{end}.csv"'
        )
        return response
    return {"partner_id": partner_id, "currency": currency, "data": [day_view(d) for d in days]}


STATEMENT_RESPONSES = {
    "200": {
        "description": "the statement: JSON, or CSV with format=csv",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "date,currency,opening,remittances_count,remittances,fees,"
                "adjustments,closing\n",
            }
        },
    }
}


# ------------------------------------------------------------------ partner


@blp.route("/liquidity", methods=["GET"])
@requires("partner")
@blp.response(200, PositionListSchema)
def mine() -> dict[str, Any]:
    """Your liquidity position in every currency you send from."""
    partner = principal()
    found = database().run(lambda c: positions(c, partner.id))
    return {"partner_id": partner.id, "data": [position_view(p) for p in found]}


@blp.route("/liquidity/<currency>/statement", methods=["GET"])
@requires("partner")
@blp.arguments(SettlementStatementArgs(), location="query")
@blp.response(200, SettlementStatementSchema)
@blp.doc(responses=STATEMENT_RESPONSES)
def my_statement(args: dict[str, Any], currency: str) -> Any:
    """Your settlement statement, per UTC day: opening, remittances, fees, adjustments,
    closing (``format=csv`` for a file)."""
    return _statement(principal().id, _currency(currency), args)


# ------------------------------------------------------------------ admin


def _partner_id(value: str) -> uuid.UUID:
    return parse_uuid(value, "partner", "principal_not_found")


@blp.route("/partners/<partner_id>/liquidity", methods=["GET"])
@requires("admin", "fund_manager")
@blp.response(200, PositionListSchema)
def partner_positions(partner_id: str) -> dict[str, Any]:
    """A partner's liquidity positions."""
    pid = _partner_id(partner_id)

    def read(connection: Any) -> list[LiquidityPosition]:
        _partner(connection, pid)
        return positions(connection, pid)

    return {"partner_id": pid, "data": [position_view(p) for p in database().run(read)]}


@blp.route("/partners/<partner_id>/liquidity/<currency>", methods=["PUT"])
@requires("admin")
@idempotent(required=False)
@blp.arguments(LiquidityConfigSchema())
@blp.response(200, PositionSchema)
def configure(body: dict[str, Any], partner_id: str, currency: str) -> dict[str, Any]:
    """Open a partner's settlement account in ``currency`` (first time) or change its net
    debit cap and alarm threshold; a cap below what is drawn is 409 limit_below_usage."""
    pid, now = _partner_id(partner_id), clock().now()
    cap_minor, cap_currency = money_to_minor(body["net_debit_cap"])
    code = validate_currency(currency)
    if cap_currency != code:
        raise CurrencyMismatch(f"the cap is in {cap_currency}, the position in {code}")

    def work(connection: Any) -> LiquidityPosition:
        configure_liquidity(
            connection,
            _partner(connection, pid),
            code,
            net_debit_cap_minor=cap_minor,
            alarm_threshold_percent=body["alarm_threshold_percent"],
            now=now,
        )
        return next(p for p in positions(connection, pid) if p.currency == code)

    return position_view(database().run(work))


@blp.route("/partners/<partner_id>/liquidity/<currency>/adjustments", methods=["POST"])
@requires("admin")
@idempotent(required=True)
@blp.arguments(AdjustmentSchema())
@blp.response(201, AdjustmentResultSchema)
def adjust(body: dict[str, Any], partner_id: str, currency: str) -> dict[str, Any]:
    """Record a top-up (money the partner sent us) or a withdrawal (money we returned;
    never drawing on the cap). One adjustment per ``reference``."""
    pid, now = _partner_id(partner_id), clock().now()
    amount_minor, amount_currency = money_to_minor(body["amount"])
    code = _currency(currency)
    if amount_currency != code:
        raise CurrencyMismatch(f"the amount is in {amount_currency}, the position in {code}")

    def work(connection: Any) -> dict[str, Any]:
        _partner(connection, pid)
        done = adjust_liquidity(
            connection,
            pid,
            code,
            kind=body["kind"],
            amount_minor=amount_minor,
            reference=body["reference"],
            now=now,
            effective_at=body.get("effective_at"),
        )
        position = next(p for p in positions(connection, pid) if p.currency == code)
        return {
            "kind": done.kind,
            "amount": money(done.amount_minor, code),
            "reference": done.reference,
            "transaction_id": done.transaction.id,
            "position": position_view(position),
        }

    return database().run(work)


@blp.route("/partners/<partner_id>/liquidity/<currency>/statement", methods=["GET"])
@requires("admin", "fund_manager")
@blp.arguments(SettlementStatementArgs(), location="query")
@blp.response(200, SettlementStatementSchema)
@blp.doc(responses=STATEMENT_RESPONSES)
def partner_statement(args: dict[str, Any], partner_id: str, currency: str) -> Any:
    """A partner's settlement statement (as ``GET /v1/liquidity/{currency}/statement``)."""
    pid = _partner_id(partner_id)
    database().run(lambda c: _partner(c, pid))
    return _statement(pid, _currency(currency), args)
