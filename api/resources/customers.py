"""Customers of the calling partner."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, principal
from api.idempotency import idempotent
from api.resources import Blueprint, parse_cursor_uuid, parse_uuid
from api.schemas import BaseSchema, PageArgs, Timestamp, page, page_of
from ledger.limits import EXTERNAL_ID_LENGTH_MAX, FULL_NAME_LENGTH_MAX
from ledger.parties import CUSTOMER_KINDS, CustomerRecord, create_customer, get_customer
from ledger.parties import list_customers as list_customer_records

blp = Blueprint("customers", __name__, url_prefix="/v1", description="A partner's customers")


class CustomerCreateSchema(BaseSchema):
    external_id = fields.String(
        required=True,
        validate=validate.Length(1, EXTERNAL_ID_LENGTH_MAX),
        metadata={"description": "your id for the customer, unique among your customers"},
    )
    full_name = fields.String(required=True, validate=validate.Length(1, FULL_NAME_LENGTH_MAX))
    country = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z]{2}$", error="must be an ISO 3166-1 alpha-2 code"),
        metadata={"example": "TJ"},
    )
    kind = fields.String(required=True, validate=validate.OneOf(CUSTOMER_KINDS))


class CustomerSchema(CustomerCreateSchema):
    id = fields.UUID(required=True)
    created_at = Timestamp(required=True)


class CustomerListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(CUSTOMER_KINDS))
    country = fields.String(validate=validate.Regexp(r"^[A-Z]{2}$"))
    external_id = fields.String(
        validate=[
            validate.Length(1, EXTERNAL_ID_LENGTH_MAX),
            validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters"),
        ]
    )
    created_from = Timestamp()
    created_to = Timestamp()


def customer_view(record: CustomerRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "external_id": record.external_id,
        "full_name": record.full_name,
        "country": record.country,
        "kind": record.kind,
        "created_at": record.created_at,
    }


@blp.route("/customers", methods=["POST"])
@requires("partner")
@idempotent(required=False)
@blp.arguments(CustomerCreateSchema())
@blp.response(201, CustomerSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """Register a customer (409 customer_exists if the external_id is taken)."""
    partner, now = principal(), clock().now()
    record = database().run(lambda c: create_customer(c, partner.id, now=now, **body))
    return customer_view(record)


@blp.route("/customers", methods=["GET"])
@requires("partner")
@blp.arguments(CustomerListArgs(), location="query")
@blp.response(200, page_of(CustomerSchema))
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Your customers, newest first."""
    partner = principal()
    after = parse_cursor_uuid(args.pop("starting_after", None))
    records, more = database().run(
        lambda c: list_customer_records(c, partner.id, starting_after=after, **args)
    )
    return page([customer_view(r) for r in records], more)


@blp.route("/customers/<customer_id>", methods=["GET"])
@requires("partner")
@blp.response(200, CustomerSchema)
def show(customer_id: str) -> dict[str, Any]:
    partner = principal()
    cid = parse_uuid(customer_id, "customer", "customer_not_found")
    return customer_view(database().run(lambda c: get_customer(c, partner.id, cid)))
