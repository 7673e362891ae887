"""Quotes: the partner's price for one remittance, valid for a short while."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from api.auth import requires
from api.context import clock, database, policy, principal
from api.idempotency import idempotent
from api.resources import Blueprint, parse_uuid
from api.resources.corridors import CORRIDOR_CODE
from api.schemas import BaseSchema, MoneySchema, Timestamp, decimal_text, money, money_to_minor
from ledger.errors import ValidationFailed
from ledger.money import round_to_minor
from ledger.remittance.quotes import QuoteRecord, create_quote, get_quote

blp = Blueprint("quotes", __name__, url_prefix="/v1", description="Quotes")


class QuoteCreateSchema(BaseSchema):
    corridor = fields.String(
        required=True,
        validate=validate.Regexp(CORRIDOR_CODE),
        metadata={"example": "RU-RUB-TJ-TJS"},
    )
    send_amount = fields.Nested(MoneySchema, metadata={"description": "before the fee"})
    receive_amount = fields.Nested(
        MoneySchema, metadata={"description": "what the beneficiary must get"}
    )

    @validates_schema
    def _one_amount(self, data: dict[str, Any], **_: Any) -> None:
        if ("send_amount" in data) == ("receive_amount" in data):
            raise ValidationError("give send_amount or receive_amount", "send_amount")


class QuoteSchema(BaseSchema):
    id = fields.UUID(required=True)
    corridor = fields.String(required=True)
    send_amount = fields.Nested(MoneySchema, required=True)
    fee = fields.Nested(MoneySchema, required=True)
    charged_amount = fields.Nested(
        MoneySchema, required=True, metadata={"description": "what the sender pays: send + fee"}
    )
    receive_amount = fields.Nested(MoneySchema, required=True)
    mid_rate = fields.String(required=True, metadata={"description": "1 send unit, reference"})
    applied_rate = fields.String(
        required=True, metadata={"description": "1 send unit, to the sender"}
    )
    fx_margin = fields.String(
        required=True, metadata={"description": "a fraction of the send amount"}
    )
    rate_date = fields.Date(required=True)
    rate_source = fields.String(required=True)
    fx_margin_cost = fields.Nested(MoneySchema, required=True)
    total_cost = fields.Nested(
        MoneySchema, required=True, metadata={"description": "fee + FX margin, rounded half-even"}
    )
    total_cost_percent = fields.String(
        required=True,
        metadata={"description": "of the send amount, from unrounded figures", "example": "1.90"},
    )
    created_at = Timestamp(required=True)
    expires_at = Timestamp(required=True)


def quote_view(record: QuoteRecord) -> dict[str, Any]:
    send, receive = record.send_currency, record.receive_currency
    return {
        "id": record.id,
        "corridor": record.corridor_code,
        "send_amount": money(record.send_minor, send),
        "fee": money(record.fee_minor, send),
        "charged_amount": money(record.send_minor + record.fee_minor, send),
        "receive_amount": money(record.receive_minor, receive),
        "mid_rate": decimal_text(record.mid_rate),
        "applied_rate": decimal_text(record.applied_rate),
        "fx_margin": decimal_text(record.fx_margin),
        "rate_date": record.rate_date,
        "rate_source": record.rate_source,
        "fx_margin_cost": money(round_to_minor(record.fx_margin_cost, send, ROUND_HALF_EVEN), send),
        "total_cost": money(record.total_cost_minor, send),
        "total_cost_percent": decimal_text(record.total_cost_percent),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
    }


@blp.route("/quotes", methods=["POST"])
@requires("partner")
@idempotent(required=False)
@blp.arguments(QuoteCreateSchema())
@blp.response(201, QuoteSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """Price a send amount (the fee comes on top) or a receive amount, at your price in
    force now and today's mid-rate; a stale mid-rate is 422 stale_rate."""
    partner, now = principal(), clock().now()
    send = money_to_minor(body["send_amount"]) if "send_amount" in body else None
    receive = money_to_minor(body["receive_amount"]) if "receive_amount" in body else None
    if send is None and receive is None:  # pragma: no cover - the schema refuses it
        raise ValidationFailed("give send_amount or receive_amount")
    record = database().run(
        lambda c: create_quote(
            c, partner.id, body["corridor"], send=send, receive=receive, now=now, policy=policy()
        )
    )
    return quote_view(record)


@blp.route("/quotes/<quote_id>", methods=["GET"])
@requires("partner")
@blp.response(200, QuoteSchema)
def show(quote_id: str) -> dict[str, Any]:
    partner = principal()
    qid = parse_uuid(quote_id, "quote", "quote_not_found")
    return quote_view(database().run(lambda c: get_quote(c, partner.id, qid)))
