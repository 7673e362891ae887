"""Reference mid-rates: loaded by administrators per day and source, read by anyone."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database
from api.idempotency import idempotent
from api.resources import Blueprint
from api.schemas import CURRENCY_PATTERN, BaseSchema, Day, DecimalString, Timestamp, decimal_text
from ledger.limits import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    RATE_SOURCE_LENGTH_MAX,
    RATES_PER_LOAD_MAX,
)
from ledger.remittance.rates import RateInput, RateRecord, list_rates, load_rates, parse_mid_rate

blp = Blueprint("fx_rates", __name__, url_prefix="/v1", description="Reference mid-rates")


class RateInSchema(BaseSchema):
    date = Day(required=True, metadata={"description": "the day the rate is for"})
    source = fields.String(
        required=True,
        validate=validate.Length(1, RATE_SOURCE_LENGTH_MAX),
        metadata={"example": "cbr"},
    )
    base = fields.String(required=True, validate=validate.Regexp(CURRENCY_PATTERN))
    quote = fields.String(required=True, validate=validate.Regexp(CURRENCY_PATTERN))
    mid_rate = DecimalString(required=True, metadata={"description": "1 base = mid_rate quote"})


class RateSchema(RateInSchema):
    created_at = Timestamp(required=True)


class RateLoadSchema(BaseSchema):
    rates = fields.List(
        fields.Nested(RateInSchema), required=True, validate=validate.Length(1, RATES_PER_LOAD_MAX)
    )


class RateLoadResultSchema(BaseSchema):
    inserted = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)


class RateListArgs(BaseSchema):
    base = fields.String(validate=validate.Regexp(CURRENCY_PATTERN))
    quote = fields.String(validate=validate.Regexp(CURRENCY_PATTERN))
    source = fields.String(validate=validate.Length(1, RATE_SOURCE_LENGTH_MAX))
    date_from = Day(data_key="from")
    date_to = Day(data_key="to")
    limit = fields.Integer(
        load_default=PAGE_SIZE_DEFAULT, validate=validate.Range(1, PAGE_SIZE_MAX)
    )


class RateListSchema(BaseSchema):
    data = fields.List(fields.Nested(RateSchema), required=True)


def rate_view(record: RateRecord) -> dict[str, Any]:
    return {
        "date": record.rate_date,
        "source": record.source,
        "base": record.base,
        "quote": record.quote,
        "mid_rate": decimal_text(record.mid_rate),
        "created_at": record.created_at,
    }


@blp.route("/fx-rates", methods=["POST"])
@requires("admin")
@idempotent(required=False)
@blp.arguments(RateLoadSchema())
@blp.response(201, RateLoadResultSchema)
def load(body: dict[str, Any]) -> dict[str, Any]:
    """Load mid-rates, all or nothing. The same value again changes nothing; another
    value for a stored day, pair and source is 409 fx_rate_conflict."""
    rates = [
        RateInput(
            rate_date=item["date"],
            source=item["source"],
            base=item["base"],
            quote=item["quote"],
            mid_rate=parse_mid_rate(item["mid_rate"]),
        )
        for item in body["rates"]
    ]
    now = clock().now()
    result = database().run(lambda c: load_rates(c, rates, now=now))
    return {"inserted": result.inserted, "unchanged": result.unchanged}


@blp.route("/fx-rates", methods=["GET"])
@requires("admin", "partner", "fund_manager")
@blp.arguments(RateListArgs(), location="query")
@blp.response(200, RateListSchema)
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Mid-rates, newest day first (at most ``limit``)."""
    return {"data": [rate_view(r) for r in database().run(lambda c: list_rates(c, **args))]}
