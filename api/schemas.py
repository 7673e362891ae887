"""Shared schemas: the strict base, money, timestamps, pages.

Money on the wire is ``{"amount": "150.00", "currency": "TJS"}``: the amount is
a decimal *string* in major units. A JSON number is refused by the schema
(marshmallow's String does not coerce), so no float ever reaches the ledger;
excess decimals are refused by ``ledger.money.to_minor`` (``too_many_decimals``).
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from ledger.limits import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from ledger.money import from_minor, to_minor

#: Up to 19 integer digits and 18 decimals; sign, exponent and spaces refused.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,18})(\.[0-9]{1,18})?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class BaseSchema(Schema):
    """Unknown fields are an error, never silently ignored."""

    class Meta:
        unknown = RAISE
        ordered = True


class MoneySchema(BaseSchema):
    amount = fields.String(
        required=True,
        validate=validate.Regexp(AMOUNT_PATTERN, error="must be a non-negative decimal string"),
        metadata={"description": "decimal string in major units", "example": "150.00"},
    )
    currency = fields.String(
        required=True,
        validate=validate.Regexp(CURRENCY_PATTERN, error="must be an ISO 4217 code"),
        metadata={"example": "TJS"},
    )


def money_to_minor(money: dict[str, str]) -> tuple[int, str]:
    """A validated money object to (minor units, currency); domain errors on excess
    decimals or an unknown currency."""
    return to_minor(money["amount"], money["currency"]), money["currency"]


def money(amount_minor: int, currency: str) -> dict[str, str]:
    return {"amount": str(from_minor(amount_minor, currency)), "currency": currency}


def Timestamp(**kwargs: Any) -> fields.AwareDateTime:  # noqa: N802  (a field factory)
    """An ISO 8601 timestamp with a zone; naive ones are refused."""
    return fields.AwareDateTime(format="iso", **kwargs)


class PageArgs(BaseSchema):
    limit = fields.Integer(
        load_default=PAGE_SIZE_DEFAULT, validate=validate.Range(1, PAGE_SIZE_MAX)
    )
    starting_after = fields.String(
        validate=validate.Length(1, 200),
        metadata={"description": "the next_cursor of the previous page"},
    )


class PageSchema(BaseSchema):
    has_more = fields.Boolean(required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The list envelope ``{"data": [...], "has_more": ..., "next_cursor": ...}``."""
    return type(
        f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
        (PageSchema,),
        {"data": fields.List(fields.Nested(item_schema), required=True)},
    )


def page(items: list[dict[str, Any]], has_more: bool, cursor_key: str = "id") -> dict[str, Any]:
    return {
        "data": items,
        "has_more": has_more,
        "next_cursor": str(items[-1][cursor_key]) if has_more and items else None,
    }
