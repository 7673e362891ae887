"""Webhook endpoints and their deliveries, for partners and fund managers (their own).

An endpoint's signing secret is shown once, in the answer that creates it. Deliveries
carry ``Ledger-Signature: t=...,v1=...`` (HMAC-SHA256 of ``"<t>.<body>"``) and
``Ledger-Event-Id``; see ``integrations.webhooks``.
"""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, principal
from api.resources import Blueprint, parse_cursor_uuid, parse_uuid
from api.schemas import BaseSchema, PageArgs, Timestamp, page, page_of
from ledger.events.endpoints import (
    EndpointRecord,
    attempts_of,
    get_delivery,
    list_deliveries,
    list_endpoints,
    register_endpoint,
    replay_delivery,
    set_endpoint_status,
)
from ledger.events.models import DELIVERY_STATUSES, ENDPOINT_URL_LENGTH_MAX
from ledger.events.outbox import EVENT_TYPES

blp = Blueprint(
    "webhooks", __name__, url_prefix="/v1", description="Webhook endpoints and deliveries"
)


class EndpointCreateSchema(BaseSchema):
    url = fields.String(required=True, validate=validate.Length(1, ENDPOINT_URL_LENGTH_MAX))
    events = fields.List(
        fields.String(validate=validate.OneOf([*EVENT_TYPES, "*"])),
        required=True,
        validate=validate.Length(1, len(EVENT_TYPES)),
    )


class EndpointSchema(BaseSchema):
    id = fields.UUID(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    status = fields.String(required=True)
    consecutive_failures = fields.Integer(required=True)
    created_at = Timestamp(required=True)
    disabled_at = Timestamp(allow_none=True, required=True)


class CreatedEndpointSchema(EndpointSchema):
    secret = fields.String(required=True, metadata={"description": "shown only here"})


class EndpointListSchema(BaseSchema):
    data = fields.List(fields.Nested(EndpointSchema), required=True)


class DeliveryListArgs(PageArgs):
    endpoint_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


class AttemptSchema(BaseSchema):
    number = fields.Integer(required=True)
    started_at = Timestamp(required=True)
    duration_ms = fields.Integer(required=True)
    status_code = fields.Integer(allow_none=True, required=True)
    error = fields.String(allow_none=True, required=True)


class DeliverySchema(BaseSchema):
    id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True)
    endpoint_id = fields.UUID(required=True)
    url = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = Timestamp(required=True)
    last_status_code = fields.Integer(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    delivered_at = Timestamp(allow_none=True, required=True)
    created_at = Timestamp(required=True)
    data = fields.Dict(required=True)


class DeliveryDetailSchema(DeliverySchema):
    attempt_log = fields.List(fields.Nested(AttemptSchema), required=True)


def endpoint_view(record: EndpointRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "url": record.url,
        "events": record.events,
        "status": record.status,
        "consecutive_failures": record.consecutive_failures,
        "created_at": record.created_at,
        "disabled_at": record.disabled_at,
    }


def delivery_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event_type": row.type,
        "endpoint_id": row.endpoint_id,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "delivered_at": row.delivered_at,
        "created_at": row.created_at,
        "data": row.data,
    }


def _endpoint_id(value: str) -> uuid.UUID:
    return parse_uuid(value, "webhook endpoint", "webhook_endpoint_not_found")


def _delivery_id(value: str) -> uuid.UUID:
    return parse_uuid(value, "webhook delivery", "webhook_delivery_not_found")


@blp.route("/webhook-endpoints", methods=["POST"])
@requires("partner", "fund_manager")
@blp.arguments(EndpointCreateSchema())
@blp.response(201, CreatedEndpointSchema)
def create_endpoint(body: dict[str, Any]) -> dict[str, Any]:
    """Register a URL for the events you choose (``*``: all). The answer carries the
    signing secret, once. Not replayed by Idempotency-Key: the answer is a secret."""
    caller, now = principal(), clock().now()
    record, secret = database().run(
        lambda c: register_endpoint(
            c, caller.id, url=body["url"], event_types=body["events"], now=now
        )
    )
    return {**endpoint_view(record), "secret": secret}


@blp.route("/webhook-endpoints", methods=["GET"])
@requires("partner", "fund_manager")
@blp.response(200, EndpointListSchema)
def index_endpoints() -> dict[str, Any]:
    caller = principal()
    return {
        "data": [endpoint_view(e) for e in database().run(lambda c: list_endpoints(c, caller.id))]
    }


def _set_status(endpoint_id: str, enabled: bool) -> dict[str, Any]:
    caller, eid, now = principal(), _endpoint_id(endpoint_id), clock().now()
    return endpoint_view(
        database().run(lambda c: set_endpoint_status(c, caller.id, eid, enabled=enabled, now=now))
    )


@blp.route("/webhook-endpoints/<endpoint_id>/disable", methods=["POST"])
@requires("partner", "fund_manager")
@blp.response(200, EndpointSchema)
def disable_endpoint(endpoint_id: str) -> dict[str, Any]:
    """Stop deliveries to the endpoint (events still queue for it)."""
    return _set_status(endpoint_id, False)


@blp.route("/webhook-endpoints/<endpoint_id>/enable", methods=["POST"])
@requires("partner", "fund_manager")
@blp.response(200, EndpointSchema)
def enable_endpoint(endpoint_id: str) -> dict[str, Any]:
    """Deliver again (also after the service disabled it for persistent failures)."""
    return _set_status(endpoint_id, True)


@blp.route("/webhook-deliveries", methods=["GET"])
@requires("partner", "fund_manager")
@blp.arguments(DeliveryListArgs(), location="query")
@blp.response(200, page_of(DeliverySchema))
def index_deliveries(args: dict[str, Any]) -> dict[str, Any]:
    """Your deliveries, newest first."""
    caller = principal()
    after = parse_cursor_uuid(args.get("starting_after"))
    rows, more = database().run(
        lambda c: list_deliveries(
            c,
            caller.id,
            endpoint_id=args.get("endpoint_id"),
            status=args.get("status"),
            limit=args["limit"],
            starting_after=after,
        )
    )
    return page([delivery_view(r) for r in rows], more)


@blp.route("/webhook-deliveries/<delivery_id>", methods=["GET"])
@requires("partner", "fund_manager")
@blp.response(200, DeliveryDetailSchema)
def show_delivery(delivery_id: str) -> dict[str, Any]:
    """A delivery and every attempt at it."""
    caller, did = principal(), _delivery_id(delivery_id)

    def read(c: Any) -> dict[str, Any]:
        row = get_delivery(c, caller.id, did)
        log = [
            {
                "number": a.number,
                "started_at": a.started_at,
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "error": a.error,
            }
            for a in attempts_of(c, did)
        ]
        return {**delivery_view(row), "attempt_log": log}

    return database().run(read)


@blp.route("/webhook-deliveries/<delivery_id>/replay", methods=["POST"])
@requires("partner", "fund_manager")
@blp.response(200, DeliverySchema)
def replay(delivery_id: str) -> dict[str, Any]:
    """Send it again, now (same event id, so a receiver that has it can tell)."""
    caller, did, now = principal(), _delivery_id(delivery_id), clock().now()
    return delivery_view(database().run(lambda c: replay_delivery(c, caller.id, did, now=now)))
