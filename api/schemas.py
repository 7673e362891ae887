"""Shared schemas: the strict base, money, timestamps, pages.

Money on the wire is ``{"amount": "150.00", "currency": "TJS"}``: the amount is
a decimal *string* in major units. A JSON number is refused by the schema
(marshmallow's String does not coerce), so no float ever reaches the ledger;
excess decimals are refused by ``ledger.money.to_minor`` (``too_many_decimals``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Response, jsonify
from marshmallow import INCLUDE, RAISE, Schema, fields, validate

from ledger.limits import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from ledger.money import from_minor, to_minor

#: Up to 19 integer digits and 18 decimals; sign, exponent and spaces refused.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,18})(\.[0-9]{1,18})?$"
SIGNED_AMOUNT_PATTERN = r"^-?(0|[1-9][0-9]{0,18})(\.[0-9]{1,18})?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
#: A rate or a fraction as a decimal string: "0.1192", "90", "0.004".
DECIMAL_PATTERN = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,18})?$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"


class BaseSchema(Schema):
    """Unknown fields are an error, never silently ignored."""

    class Meta:
        unknown = RAISE
        ordered = True


class ProblemSchema(Schema):
    """Every error response: RFC 9457 problem details (``application/problem+json``).

    Only documentation (the handlers in api.errors build problems); open to extra
    members, which carry a problem's details (``field``, ``slug``, ...).
    """

    class Meta:
        unknown = INCLUDE
        ordered = True

    type = fields.String(
        required=True, metadata={"example": "https://ledger.example/problems/validation_error"}
    )
    title = fields.String(required=True, metadata={"example": "Validation error"})
    status = fields.Integer(required=True, metadata={"example": 422})
    detail = fields.String(required=True)
    code = fields.String(
        required=True,
        metadata={"description": "stable machine code of the problem", "example": "not_found"},
    )
    errors = fields.Raw(
        metadata={
            "description": "validation_error: messages by field; "
            "batch_rejected: the failing items, each with its index"
        }
    )


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


class SignedMoneySchema(MoneySchema):
    """A balance in responses: unlike an amount, it may be below zero (an overdraft,
    or a pending credit on a debit-normal account)."""

    amount = fields.String(
        required=True,
        validate=validate.Regexp(SIGNED_AMOUNT_PATTERN, error="must be a decimal string"),
        metadata={
            "description": "decimal string in major units, may be negative",
            "example": "-20.00",
        },
    )


def money_to_minor(money: dict[str, str]) -> tuple[int, str]:
    """A validated money object to (minor units, currency); domain errors on excess
    decimals or an unknown currency."""
    return to_minor(money["amount"], money["currency"]), money["currency"]


def money(amount_minor: int, currency: str) -> dict[str, str]:
    return {"amount": str(from_minor(amount_minor, currency)), "currency": currency}


#: Instants a UTC datetime can hold: 9999-12-31T23:59:59-14:00 is later than any.
_IN_UTC_RANGE = validate.Range(
    min=datetime.min.replace(tzinfo=UTC),
    max=datetime.max.replace(tzinfo=UTC),
    error="must be between 0001-01-01 and 9999-12-31 in UTC",
)


def Timestamp(**kwargs: Any) -> fields.AwareDateTime:  # noqa: N802  (a field factory)
    """An ISO 8601 timestamp with a zone; naive ones are refused, and so are
    instants outside the years 1 to 9999 in UTC (they cannot be stored)."""
    return fields.AwareDateTime(format="iso", validate=_IN_UTC_RANGE, **kwargs)


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


#: Business days a request may name: far enough back for any history, far enough
#: ahead for any schedule, and clear of the calendar's ends (a month before year 1
#: or a day after 9999-12-31 cannot be computed).
_DAY_RANGE = validate.Range(
    min=date(1900, 1, 1), max=date(9998, 12, 31), error="must be between 1900-01-01 and 9998-12-31"
)


def Day(**kwargs: Any) -> fields.Date:  # noqa: N802  (a field factory)
    """An ISO 8601 date (``2026-11-30``) within the range the ledger computes with."""
    return fields.Date(validate=_DAY_RANGE, **kwargs)


def DecimalString(**kwargs: Any) -> fields.String:  # noqa: N802  (a field factory)
    """A non-negative decimal as a string (rates, margins): a JSON number is refused,
    so no float ever enters; the domain bounds its places."""
    metadata = {"example": "0.1192", **kwargs.pop("metadata", {})}
    return fields.String(
        validate=validate.Regexp(DECIMAL_PATTERN, error="must be a decimal string"),
        metadata=metadata,
        **kwargs,
    )


def Country(**kwargs: Any) -> fields.String:  # noqa: N802  (a field factory)
    return fields.String(
        validate=validate.Regexp(COUNTRY_PATTERN, error="must be an ISO 3166-1 alpha-2 code"),
        metadata={"example": "TJ"},
        **kwargs,
    )


def decimal_text(value: Any) -> str | None:
    """A Decimal as plain text for a response (never an exponent, never a float)."""
    return None if value is None else format(value, "f")


def json_response(body: dict[str, Any], status: int, schema: Schema | None = None) -> Response:
    """What ``@blp.response`` would send, built where it cannot be: inside the unit of
    work (``run_recorded``) so the idempotency record stores the exact bytes sent."""
    response = jsonify(schema.dump(body) if schema is not None else body)
    response.status_code = status
    return response
