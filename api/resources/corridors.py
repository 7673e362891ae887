"""Corridors (administrators create them; everyone reads them) and each partner's
own price on a corridor (fee schedule, FX margin, mid-rate source)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, principal
from api.idempotency import idempotent
from api.resources import Blueprint
from api.schemas import (
    CURRENCY_PATTERN,
    BaseSchema,
    Country,
    DecimalString,
    MoneySchema,
    Timestamp,
    decimal_text,
    money,
    money_to_minor,
)
from ledger.errors import CorridorNotFound, CurrencyMismatch, ValidationFailed
from ledger.limits import FEE_TIERS_MAX, RATE_SOURCE_LENGTH_MAX
from ledger.remittance.corridors import (
    CorridorRecord,
    PricingRecord,
    create_corridor,
    current_pricing,
    get_corridor,
    list_corridors,
    set_pricing,
)
from ledger.remittance.pricing import FeeSchedule, FeeTier

blp = Blueprint(
    "corridors", __name__, url_prefix="/v1", description="Corridors and partners' prices"
)

CORRIDOR_CODE = r"^[A-Z]{2}-[A-Z]{3}-[A-Z]{2}-[A-Z]{3}$"


class CorridorCreateSchema(BaseSchema):
    send_country = Country(required=True)
    send_currency = fields.String(required=True, validate=validate.Regexp(CURRENCY_PATTERN))
    receive_country = Country(required=True)
    receive_currency = fields.String(required=True, validate=validate.Regexp(CURRENCY_PATTERN))


class CorridorSchema(CorridorCreateSchema):
    code = fields.String(required=True, metadata={"example": "RU-RUB-TJ-TJS"})
    created_at = Timestamp(required=True)


class CorridorListSchema(BaseSchema):
    data = fields.List(fields.Nested(CorridorSchema), required=True)


class FeeTierSchema(BaseSchema):
    from_amount = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "the tier applies to send amounts from this one on"},
    )
    fixed = fields.Nested(MoneySchema, required=True)
    percentage = DecimalString(
        required=True, metadata={"description": "a fraction: 0.015 is 1.5%", "example": "0.015"}
    )


class PricingInSchema(BaseSchema):
    tiers = fields.List(
        fields.Nested(FeeTierSchema), required=True, validate=validate.Length(1, FEE_TIERS_MAX)
    )
    minimum_fee = fields.Nested(MoneySchema)
    maximum_fee = fields.Nested(MoneySchema)
    fx_margin = DecimalString(
        required=True,
        metadata={
            "description": "over the mid-rate, a fraction: 0.004 is 0.4%",
            "example": "0.004",
        },
    )
    rate_source = fields.String(
        load_default="reference",
        validate=validate.Length(1, RATE_SOURCE_LENGTH_MAX),
        metadata={"description": "whose mid-rates price this corridor", "example": "cbr"},
    )


class PricingSchema(PricingInSchema):
    id = fields.UUID(required=True)
    corridor = fields.String(required=True)
    partner_id = fields.UUID(required=True)
    created_at = Timestamp(required=True, metadata={"description": "in force from"})


def corridor_view(record: CorridorRecord) -> dict[str, Any]:
    return dict(record.__dict__)


def pricing_view(record: PricingRecord) -> dict[str, Any]:
    fees = record.fees
    return {
        "id": record.id,
        "corridor": record.corridor_code,
        "partner_id": record.partner_id,
        "tiers": [
            {
                "from_amount": money(tier.from_minor, fees.currency),
                "fixed": money(tier.fixed_minor, fees.currency),
                "percentage": decimal_text(tier.percentage),
            }
            for tier in fees.tiers
        ],
        "minimum_fee": money(fees.minimum_minor, fees.currency),
        "maximum_fee": (
            money(fees.maximum_minor, fees.currency) if fees.maximum_minor is not None else None
        ),
        "fx_margin": decimal_text(record.fx_margin),
        "rate_source": record.rate_source,
        "created_at": record.created_at,
    }


def _fee_schedule(body: dict[str, Any], currency: str) -> FeeSchedule:
    def minor(value: dict[str, str] | None, field: str) -> int | None:
        if value is None:
            return None
        amount, given = money_to_minor(value)
        if given != currency:
            raise CurrencyMismatch(f"fees on this corridor are in {currency}", field=field)
        return amount

    tiers = tuple(
        FeeTier(
            minor(tier["from_amount"], "tiers") or 0,
            minor(tier["fixed"], "tiers") or 0,
            Decimal(tier["percentage"]),
        )
        for tier in body["tiers"]
    )
    return FeeSchedule(
        currency=currency,
        tiers=tiers,
        minimum_minor=minor(body.get("minimum_fee"), "minimum_fee") or 0,
        maximum_minor=minor(body.get("maximum_fee"), "maximum_fee"),
    )


def corridor_code_from_path(code: str) -> str:
    """A malformed code is answered like a missing corridor."""
    if not re.match(CORRIDOR_CODE, code):
        raise CorridorNotFound(f"corridor {code!r} does not exist", corridor=code)
    return code


@blp.route("/corridors", methods=["POST"])
@requires("admin")
@idempotent(required=False)
@blp.arguments(CorridorCreateSchema())
@blp.response(201, CorridorSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """Open a corridor (409 corridor_exists if it is there)."""
    now = clock().now()
    return corridor_view(database().run(lambda c: create_corridor(c, now=now, **body)))


@blp.route("/corridors", methods=["GET"])
@requires("admin", "partner", "fund_manager")
@blp.response(200, CorridorListSchema)
def index() -> dict[str, Any]:
    """Every corridor, by code."""
    return {"data": [corridor_view(r) for r in database().run(list_corridors)]}


@blp.route("/corridors/<code>", methods=["GET"])
@requires("admin", "partner", "fund_manager")
@blp.response(200, CorridorSchema)
def show(code: str) -> dict[str, Any]:
    code = corridor_code_from_path(code)
    return corridor_view(database().run(lambda c: get_corridor(c, code)))


@blp.route("/corridors/<code>/pricing", methods=["PUT"])
@requires("partner")
@idempotent(required=False)
@blp.arguments(PricingInSchema())
@blp.response(200, PricingSchema)
def put_pricing(body: dict[str, Any], code: str) -> dict[str, Any]:
    """Put your price on the corridor in force from now on (the old one stays on record:
    quotes point at the price they used)."""
    partner, now = principal(), clock().now()
    code = corridor_code_from_path(code)

    def work(connection: Any) -> PricingRecord:
        corridor = get_corridor(connection, code)
        fees = _fee_schedule(body, corridor.send_currency)
        try:
            margin = Decimal(body["fx_margin"])
        except ArithmeticError:  # pragma: no cover - the schema's pattern prevents it
            raise ValidationFailed("fx_margin is a decimal", field="fx_margin") from None
        return set_pricing(
            connection,
            partner.id,
            code,
            fees=fees,
            fx_margin=margin,
            rate_source=body["rate_source"],
            now=now,
        )

    return pricing_view(database().run(work))


@blp.route("/corridors/<code>/pricing", methods=["GET"])
@requires("partner")
@blp.response(200, PricingSchema)
def show_pricing(code: str) -> dict[str, Any]:
    """Your price on the corridor in force now (422 corridor_not_served if none)."""
    partner, now = principal(), clock().now()
    code = corridor_code_from_path(code)
    return pricing_view(database().run(lambda c: current_pricing(c, partner.id, code, at=now)))
