"""Payment providers: collecting contributions, Stripe's webhooks, bank statements,
reconciliation. The bookkeeping is ``ledger.payments``; the providers are
``integrations.providers``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from marshmallow import fields, validate

from api.auth import requires
from api.context import clock, database, principal
from api.errors import ApiProblem
from api.resources import Blueprint, parse_uuid
from api.schemas import BaseSchema, MoneySchema, SignedMoneySchema, Timestamp, money
from integrations.providers.bank_transfer import NAME as BANK_TRANSFER
from integrations.providers.base import PaymentProvider
from integrations.providers.registry import provider_named
from integrations.stripe.provider import NAME as STRIPE
from ledger.payments.provider_events import list_events

blp = Blueprint(
    "payments", __name__, url_prefix="/v1", description="Payment providers and reconciliation"
)

PROVIDERS_EXTENSION = "ledger.payment_providers"
CSV_TYPES = ("text/csv", "application/csv", "text/plain")


def providers() -> dict[str, PaymentProvider]:
    return current_app.extensions[PROVIDERS_EXTENSION]  # type: ignore[no-any-return]


class ProviderSchema(BaseSchema):
    name = fields.String(required=True)
    available = fields.Boolean(required=True)


class ProviderListSchema(BaseSchema):
    data = fields.List(fields.Nested(ProviderSchema), required=True)


class CollectionCreateSchema(BaseSchema):
    provider = fields.String(required=True, validate=validate.OneOf([STRIPE, BANK_TRANSFER]))


class CollectionSchema(BaseSchema):
    id = fields.UUID(required=True)
    provider = fields.String(required=True)
    contribution_id = fields.UUID(required=True)
    external_id = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    status = fields.String(required=True)
    created_at = Timestamp(required=True)
    instructions = fields.Dict(
        required=True,
        metadata={
            "description": "Stripe: payment_intent, client_secret (for Stripe.js), status; "
            "bank transfer: pay_to, reference, amount"
        },
    )


class WebhookAnswerSchema(BaseSchema):
    received = fields.Boolean(required=True)
    status = fields.String(
        required=True,
        metadata={"description": "processed, ignored, duplicate or failed (kept for people)"},
    )
    event_id = fields.String(required=True)


class AmountsSchema(BaseSchema):
    amount = fields.Nested(SignedMoneySchema, required=True)
    fee = fields.Nested(SignedMoneySchema, required=True)
    net = fields.Nested(SignedMoneySchema, required=True)


class LineSchema(BaseSchema):
    item = fields.String(required=True)
    kind = fields.String(required=True)
    source = fields.String(required=True)
    scheme_id = fields.String(allow_none=True, required=True)
    theirs = fields.Nested(AmountsSchema, allow_none=True, required=True)
    ours = fields.Nested(AmountsSchema, allow_none=True, required=True)


class ReconciliationSchema(BaseSchema):
    provider = fields.String(required=True)
    payout = fields.String(required=True)
    payout_amount = fields.Nested(SignedMoneySchema, required=True)
    items_net = fields.Nested(SignedMoneySchema, required=True)
    booked_net = fields.Nested(SignedMoneySchema, required=True)
    total_difference = fields.Nested(SignedMoneySchema, required=True)
    discrepancies = fields.Integer(required=True)
    matched = fields.List(fields.Nested(LineSchema), required=True)
    differences = fields.List(fields.Nested(LineSchema), required=True)
    missing_ours = fields.List(fields.Nested(LineSchema), required=True)
    missing_theirs = fields.List(fields.Nested(LineSchema), required=True)
    notes = fields.List(fields.String(), required=True)
    booked_payout = fields.Boolean(required=True)
    ran_at = fields.String(required=True)


class BankStatementLineSchema(BaseSchema):
    line = fields.Integer(required=True)
    reference = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    outcome = fields.String(
        required=True,
        metadata={
            "description": "booked, unknown_reference, amount_differs, already_booked, "
            "already_received"
        },
    )
    expected = fields.Nested(MoneySchema)


class BankStatementSchema(BaseSchema):
    statement = fields.String(required=True)
    scheme_id = fields.String(required=True)
    booked = fields.Integer(required=True)
    discrepancies = fields.Integer(required=True)
    lines = fields.List(fields.Nested(BankStatementLineSchema), required=True)
    duplicate = fields.Boolean(required=True)


class ProviderEventSchema(BaseSchema):
    id = fields.UUID(required=True)
    external_id = fields.String(required=True)
    type = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    error = fields.String(allow_none=True, required=True)
    received_at = Timestamp(required=True)
    processed_at = Timestamp(allow_none=True, required=True)


class ProviderEventListArgs(BaseSchema):
    status = fields.String(validate=validate.OneOf(["received", "processed", "ignored", "failed"]))


class ProviderEventListSchema(BaseSchema):
    data = fields.List(fields.Nested(ProviderEventSchema), required=True)


@blp.route("/payment-providers", methods=["GET"])
@requires("admin", "partner", "fund_manager")
@blp.response(200, ProviderListSchema)
def index_providers() -> dict[str, Any]:
    """The providers a contribution can be collected through, and whether each is
    configured here (Stripe needs STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET)."""
    return {
        "data": [{"name": n, "available": p.available()} for n, p in sorted(providers().items())]
    }


@blp.route("/schemes/<scheme_id>/contributions/<contribution_id>/collections", methods=["POST"])
@requires("fund_manager")
@blp.arguments(CollectionCreateSchema())
@blp.response(201, CollectionSchema)
def create_collection(body: dict[str, Any], scheme_id: str, contribution_id: str) -> dict:
    """Collect a pledged contribution through a provider. Stripe: a PaymentIntent for
    its amount and currency (the answer's client secret is for Stripe.js); asking again
    returns the same one. Bank transfer: the reference the payer quotes."""
    sid = parse_uuid(scheme_id, "scheme", "scheme_not_found")
    cid = parse_uuid(contribution_id, "contribution", "contribution_not_found")
    provider = provider_named(providers(), body["provider"])
    made = provider.create_collection(database(), principal(), sid, cid, now=clock().now())
    record = made.record
    return {
        "id": record.id,
        "provider": record.provider,
        "contribution_id": record.contribution_id,
        "external_id": record.external_id,
        "amount": money(record.amount_minor, record.currency),
        "status": record.status,
        "created_at": record.created_at,
        "instructions": made.instructions,
    }


@blp.route("/integrations/stripe/webhooks", methods=["POST"])
@blp.doc(
    security=[],
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "a Stripe event, exactly as Stripe sent it (signed in Stripe-Signature)",
    },
)
@blp.response(200, WebhookAnswerSchema)
def stripe_webhook() -> dict[str, Any]:
    """Stripe's events. No API key: the ``Stripe-Signature`` header is verified against
    the raw body with the configured secret (400 ``invalid_signature`` otherwise, and
    nothing is stored). Each event is kept by its id and acted on once; a failure to
    read Stripe back answers 502 so Stripe delivers it again."""
    outcome = providers()[STRIPE].handle(
        database(), request.get_data(cache=True), request.headers, now=clock().now()
    )
    return {"received": True, "status": outcome.status, "event_id": outcome.event_id}


@blp.route("/integrations/stripe/events", methods=["GET"])
@requires("admin")
@blp.arguments(ProviderEventListArgs(), location="query")
@blp.response(200, ProviderEventListSchema)
def index_stripe_events(args: dict[str, Any]) -> dict[str, Any]:
    """Stripe's events as received (the oldest 100 first; ``status=failed`` for those
    that need people: a settlement mismatch, a currency not the scheme's)."""
    rows = database().run(lambda c: list_events(c, STRIPE, status=args.get("status")))
    return {"data": [{**r.__dict__} for r in rows]}


@blp.route("/integrations/stripe/payouts/<payout_id>/reconciliation", methods=["GET"])
@requires("admin")
@blp.response(200, ReconciliationSchema)
def reconcile_payout(payout_id: str) -> dict[str, Any]:
    """Reconcile a Stripe payout: its balance transactions (read from Stripe now)
    against what the ledger booked. Matched, amount differences, missing on our side,
    missing on Stripe's, and the payout's total; nothing is corrected. Each run is
    recorded."""
    if not payout_id.startswith("po_") or len(payout_id) > 255:
        raise ApiProblem(404, "payout_not_found", f"no payout {payout_id}")
    return providers()[STRIPE].settlement_report(database(), payout_id, now=clock().now())


@blp.route("/schemes/<scheme_id>/bank-statements", methods=["POST"])
@requires("fund_manager")
@blp.doc(
    requestBody={
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        "description": "the fund's bank statement: date,reference,amount,currency,bank_reference",
    }
)
@blp.response(200, BankStatementSchema)
def upload_statement(scheme_id: str) -> dict[str, Any]:
    """Book a bank statement: lines quoting an open bank-transfer collection's
    reference, with its exact amount, receive it; every other line is reported and
    not booked. The same file again changes nothing."""
    if request.mimetype not in CSV_TYPES:
        raise ApiProblem(
            415, "unsupported_media_type", "send the statement as text/csv (the body is the file)"
        )
    sid = parse_uuid(scheme_id, "scheme", "scheme_not_found")
    provider = providers()[BANK_TRANSFER]
    outcome = provider.handle(
        database(),
        request.get_data(cache=True),
        {"scheme_id": str(sid)},
        now=clock().now(),
        principal=principal(),
    )
    if outcome.status == "duplicate":
        report = provider.settlement_report(database(), outcome.event_id, now=clock().now())
        return {**report, "duplicate": True}
    return {**outcome.extra, "duplicate": False}
