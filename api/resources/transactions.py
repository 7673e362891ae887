"""Transactions of the calling partner: post, hold, capture, void, reverse, batch.

Every money-moving POST needs an Idempotency-Key. The key is also handed to the
journal (scoped to the partner), so even a retry that outlives the HTTP-level
record cannot post twice. A partner may post only on accounts it owns; any other
account id is ``account_not_found``, as if it did not exist.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from flask import Response
from marshmallow import fields, validate
from sqlalchemy import Connection

from api.auth import requires
from api.context import clock, database, principal
from api.idempotency import idempotency_key, idempotent, run_recorded
from api.resources import ID_MAX, Blueprint, parse_cursor_uuid, parse_uuid
from api.schemas import (
    BaseSchema,
    MoneySchema,
    PageArgs,
    Timestamp,
    json_response,
    money,
    money_to_minor,
    page,
    page_of,
)
from ledger.errors import (
    AccountNotFound,
    BatchRejected,
    CurrencyMismatch,
    LedgerError,
    TransactionNotFound,
    ValidationFailed,
)
from ledger.journal import (
    PostingSpec,
    TransactionRecord,
    TransactionSpec,
    create_pending,
    get_transaction,
    post_batch,
    post_pending,
    post_transaction,
    reverse_transaction,
    void_pending,
)
from ledger.journal.models import TRANSACTION_STATUSES
from ledger.journal.queries import list_transactions
from ledger.limits import (
    BATCH_TRANSACTIONS_MAX,
    DESCRIPTION_LENGTH_MAX,
    POSTINGS_PER_TRANSACTION_MAX,
    POSTINGS_PER_TRANSACTION_MIN,
)
from ledger.parties import get_customer, require_owned_accounts
from ledger.parties.accounts import customer_account_ids

blp = Blueprint(
    "transactions", __name__, url_prefix="/v1", description="Transactions and their postings"
)


class PostingInSchema(BaseSchema):
    account_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=ID_MAX)
    )
    direction = fields.String(required=True, validate=validate.OneOf(("debit", "credit")))
    amount = fields.Nested(MoneySchema, required=True)


class TransactionCreateSchema(BaseSchema):
    postings = fields.List(
        fields.Nested(PostingInSchema),
        required=True,
        validate=validate.Length(POSTINGS_PER_TRANSACTION_MIN, POSTINGS_PER_TRANSACTION_MAX),
    )
    description = fields.String(
        load_default="", validate=validate.Length(0, DESCRIPTION_LENGTH_MAX)
    )
    effective_at = Timestamp(metadata={"description": "business time; default now"})
    metadata = fields.Dict(keys=fields.String(), load_default=dict)
    pending = fields.Boolean(
        load_default=False, metadata={"description": "true: a hold, posted or voided later"}
    )
    expires_at = Timestamp(metadata={"description": "pending only: voided after this"})


class BatchCreateSchema(BaseSchema):
    transactions = fields.List(
        fields.Nested(TransactionCreateSchema),
        required=True,
        validate=validate.Length(1, BATCH_TRANSACTIONS_MAX),
    )


class CaptureSchema(BaseSchema):
    amount = fields.Nested(
        MoneySchema, metadata={"description": "two-legged holds: post this much of each leg"}
    )
    postings = fields.List(
        fields.Nested(PostingInSchema),
        validate=validate.Length(POSTINGS_PER_TRANSACTION_MIN, POSTINGS_PER_TRANSACTION_MAX),
        metadata={"description": "leg by leg, each at most what was held"},
    )


class ReverseSchema(BaseSchema):
    description = fields.String(validate=validate.Length(0, DESCRIPTION_LENGTH_MAX))
    effective_at = Timestamp()
    metadata = fields.Dict(keys=fields.String())


class PostingOutSchema(BaseSchema):
    leg = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    direction = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)


class TransactionSchema(BaseSchema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(TRANSACTION_STATUSES))
    description = fields.String(required=True)
    effective_at = Timestamp(required=True)
    created_at = Timestamp(required=True)
    expires_at = Timestamp(allow_none=True, required=True)
    resolved_at = Timestamp(allow_none=True, required=True)
    reverses_id = fields.UUID(allow_none=True, required=True)
    reversed_by_id = fields.UUID(allow_none=True, required=True)
    pending_id = fields.UUID(allow_none=True, required=True)
    captured_by_id = fields.UUID(allow_none=True, required=True)
    metadata = fields.Dict(required=True)
    postings = fields.List(fields.Nested(PostingOutSchema), required=True)


class BatchResultSchema(BaseSchema):
    data = fields.List(fields.Nested(TransactionSchema), required=True)


class TransactionListArgs(PageArgs):
    account_id = fields.Integer(validate=validate.Range(min=1, max=ID_MAX))
    customer_id = fields.UUID(
        metadata={"description": "transactions with a posting on any of the customer's accounts"}
    )
    status = fields.String(validate=validate.OneOf(TRANSACTION_STATUSES))
    effective_from = Timestamp(data_key="from")
    effective_to = Timestamp(data_key="to")


def transaction_view(record: TransactionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "status": record.status,
        "description": record.description,
        "effective_at": record.effective_at,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "resolved_at": record.resolved_at,
        "reverses_id": record.reverses_id,
        "reversed_by_id": record.reversed_by_id,
        "pending_id": record.pending_id,
        "captured_by_id": record.captured_by_id,
        "metadata": record.metadata,
        "postings": [
            {
                "leg": p.leg,
                "account_id": p.account_id,
                "direction": p.direction,
                "amount": money(p.amount_minor, p.currency),
            }
            for p in record.postings
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def transaction_json(record: TransactionRecord) -> dict[str, Any]:
    """``TransactionSchema().dump(transaction_view(record))``, built directly.

    The money-moving POSTs answer with it: dumping a view through marshmallow
    serializes every field twice, which a 1,000-item batch pays for a thousand
    times. Field by field what the schema's fields do on dump: UUID and String
    give ``str``, Timestamp ``isoformat()``, Integer ``int``, Dict a copy, None
    stays None (tests/unit/test_transaction_json.py holds the two equal).
    """
    return {
        "id": _str(record.id),
        "status": _str(record.status),
        "description": _str(record.description),
        "effective_at": _iso(record.effective_at),
        "created_at": _iso(record.created_at),
        "expires_at": _iso(record.expires_at),
        "resolved_at": _iso(record.resolved_at),
        "reverses_id": _str(record.reverses_id),
        "reversed_by_id": _str(record.reversed_by_id),
        "pending_id": _str(record.pending_id),
        "captured_by_id": _str(record.captured_by_id),
        "metadata": None if record.metadata is None else dict(record.metadata),
        "postings": [
            {
                "leg": int(p.leg),
                "account_id": int(p.account_id),
                "direction": str(p.direction),
                "amount": money(p.amount_minor, p.currency),
            }
            for p in record.postings
        ],
    }


def _postings(items: list[dict[str, Any]]) -> tuple[PostingSpec, ...]:
    legs = []
    for item in items:
        amount_minor, currency = money_to_minor(item["amount"])
        legs.append(PostingSpec(item["account_id"], item["direction"], amount_minor, currency))
    return tuple(legs)


def _spec(body: dict[str, Any], client_id: str, key: str | None) -> TransactionSpec:
    return TransactionSpec(
        postings=_postings(body["postings"]),
        description=body["description"],
        effective_at=body.get("effective_at"),
        metadata=body["metadata"],
        idempotency_key=key,
        client_id=client_id,
        expires_at=body.get("expires_at"),
    )


def _own_transaction(
    connection: Connection, client_id: str, transaction_id: uuid.UUID
) -> TransactionRecord:
    record = get_transaction(connection, transaction_id)
    if record.client_id != client_id:
        raise TransactionNotFound(
            f"transaction {transaction_id} does not exist", transaction_id=str(transaction_id)
        )
    return record


@blp.route("/transactions", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.arguments(TransactionCreateSchema())
@blp.response(201, TransactionSchema)
def create(body: dict[str, Any]) -> Response:
    """Post a balanced transaction, or (``pending: true``) place a hold."""
    partner = principal()
    spec = _spec(body, partner.client_id, idempotency_key())
    operation = create_pending if body["pending"] else post_transaction
    if not body["pending"] and spec.expires_at is not None:
        raise ValidationFailed("expires_at applies to pending transactions", field="expires_at")

    def work(connection: Connection) -> TransactionRecord:
        require_owned_accounts(connection, partner.id, (p.account_id for p in spec.postings))
        return operation(connection, spec, clock=clock())

    # The response is built and stored for the Idempotency-Key before the commit.
    return run_recorded(work, lambda record: json_response(transaction_json(record), 201))


@blp.route("/transactions/batch", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.arguments(BatchCreateSchema())
@blp.response(201, BatchResultSchema)
def create_batch(body: dict[str, Any]) -> Response:
    """Post up to 1,000 transactions atomically, in order. If any fails, none is
    posted and the 422 ``batch_rejected`` lists every failing item by index."""
    partner = principal()
    base = hashlib.sha256((idempotency_key() or "").encode()).hexdigest()[:40]
    specs: dict[int, TransactionSpec] = {}
    errors: dict[int, LedgerError] = {}
    for index, item in enumerate(body["transactions"]):
        if item["pending"] or item.get("expires_at") is not None:
            errors[index] = ValidationFailed("batches post; holds are created one by one")
            continue
        try:
            specs[index] = _spec(item, partner.client_id, f"batch:{base}:{index}")
        except LedgerError as error:
            errors[index] = error

    def work(connection: Connection) -> list[TransactionRecord]:
        # Every failing item is reported, whatever step refuses it: the items that
        # pass the checks above still go through the journal (in order, as the
        # batch would), and anything it wrote is rolled back if one item failed.
        rejected = dict(errors)
        try:  # one query for the whole batch; item by item only if one is not owned
            require_owned_accounts(
                connection,
                partner.id,
                (p.account_id for spec in specs.values() for p in spec.postings),
            )
        except AccountNotFound:
            for index, spec in specs.items():
                try:
                    require_owned_accounts(
                        connection, partner.id, (p.account_id for p in spec.postings)
                    )
                except AccountNotFound as error:
                    rejected[index] = error
        valid = [index for index in specs if index not in rejected]
        records: list[TransactionRecord] = []
        if valid:
            try:
                records = post_batch(connection, [specs[i] for i in valid], clock=clock())
            except BatchRejected as error:
                rejected.update({valid[i]: item for i, item in error.errors.items()})
        if rejected:
            raise BatchRejected(rejected)
        return records

    return json_response({"data": [transaction_json(r) for r in database().run(work)]}, 201)


@blp.route("/transactions", methods=["GET"])
@requires("partner")
@blp.arguments(TransactionListArgs(), location="query")
@blp.response(200, page_of(TransactionSchema))
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Your transactions, newest first."""
    partner = principal()
    after = parse_cursor_uuid(args.pop("starting_after", None))

    def read(connection: Connection) -> tuple[list[TransactionRecord], bool]:
        if args.get("account_id") is not None:
            require_owned_accounts(connection, partner.id, [args["account_id"]])
        customer_id = args.pop("customer_id", None)
        if customer_id is not None:
            get_customer(connection, partner.id, customer_id)  # theirs, or not found
            args["account_ids"] = customer_account_ids(connection, partner.id, customer_id)
        return list_transactions(
            connection, client_id=partner.client_id, starting_after=after, **args
        )

    records, more = database().run(read)
    return page([transaction_view(r) for r in records], more)


@blp.route("/transactions/<transaction_id>", methods=["GET"])
@requires("partner")
@blp.response(200, TransactionSchema)
def show(transaction_id: str) -> dict[str, Any]:
    partner = principal()
    tid = parse_uuid(transaction_id, "transaction", "transaction_not_found")

    def read(connection: Connection) -> TransactionRecord:
        _own_transaction(connection, partner.client_id, tid)
        return get_transaction(connection, tid)

    return transaction_view(database().run(read))


@blp.route("/transactions/<transaction_id>/post", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.arguments(CaptureSchema(), required=False)  # no body: capture in full
@blp.response(200, TransactionSchema)
def capture(body: dict[str, Any], transaction_id: str) -> Response:
    """Post a pending transaction: in full (empty body), or in part (``amount`` or
    ``postings``). Returns the transaction carrying the posted amounts."""
    partner = principal()
    tid = parse_uuid(transaction_id, "transaction", "transaction_not_found")
    amount_minor, currency = None, None
    if body.get("amount") is not None:
        amount_minor, currency = money_to_minor(body["amount"])
    legs = _postings(body["postings"]) if body.get("postings") is not None else None

    def work(connection: Connection) -> TransactionRecord:
        hold = _own_transaction(connection, partner.client_id, tid)
        held = {posting.currency for posting in hold.postings}
        if currency is not None and held != {currency}:
            raise CurrencyMismatch(
                f"the hold is in {', '.join(sorted(held))}; the amount is in {currency}",
                field="amount",
            )
        return post_pending(
            connection, tid, amount_minor=amount_minor, postings=legs, clock=clock()
        )

    # Recorded with the capture: a retry after a crash replays it instead of
    # answering transaction_not_pending for a capture that did happen.
    return run_recorded(work, lambda record: json_response(transaction_json(record), 200))


@blp.route("/transactions/<transaction_id>/void", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.response(200, TransactionSchema)
def void(transaction_id: str) -> Response:
    """Release a hold; nothing of it is posted."""
    partner = principal()
    tid = parse_uuid(transaction_id, "transaction", "transaction_not_found")

    def work(connection: Connection) -> TransactionRecord:
        _own_transaction(connection, partner.client_id, tid)
        return void_pending(connection, tid, clock=clock())

    return run_recorded(work, lambda record: json_response(transaction_json(record), 200))


@blp.route("/transactions/<transaction_id>/reverse", methods=["POST"])
@requires("partner")
@idempotent(required=True)
@blp.arguments(ReverseSchema(), required=False)  # no body: a plain mirror image
@blp.response(201, TransactionSchema)
def reverse(body: dict[str, Any], transaction_id: str) -> Response:
    """Post the mirror image of a posted transaction (once)."""
    partner, key = principal(), idempotency_key()
    tid = parse_uuid(transaction_id, "transaction", "transaction_not_found")

    def work(connection: Connection) -> TransactionRecord:
        _own_transaction(connection, partner.client_id, tid)
        return reverse_transaction(
            connection,
            tid,
            description=body.get("description"),
            effective_at=body.get("effective_at"),
            metadata=body.get("metadata"),
            idempotency_key=key,
            client_id=partner.client_id,
            clock=clock(),
        )

    return run_recorded(work, lambda record: json_response(transaction_json(record), 201))
