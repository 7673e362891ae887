"""Journal operations on transactions. Each builds engine Commands; none writes itself.

Two-phase (holds):

* :func:`create_pending` reserves: its postings count in pending totals and its
  outflows reduce the available balance at once, so several holds cannot
  together spend more than is there.
* :func:`post_pending` in full turns the hold itself into a posted transaction.
  In part (smaller amounts, same legs) it voids the hold and records the
  captured amounts as a new posted transaction whose ``pending_id`` points at
  the hold (the hold's ``captured_by_id`` points back); the rest is released.
  A capture keeps the hold's business time.
* :func:`void_pending` releases a hold; :func:`expire_holds` voids those past
  ``expires_at``. A hold past its expiry can no longer be posted.

Corrections: :func:`reverse_transaction` records the mirror image of a posted
transaction, linked both ways; a transaction is reversed at most once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ledger.clock import Clock, SystemClock
from ledger.errors import (
    AlreadyReversed,
    AmountExceedsPending,
    BatchRejected,
    LedgerError,
    LimitExceeded,
    PendingExpired,
    TransactionNotPending,
    TransactionNotPosted,
    ValidationFailed,
)
from ledger.journal import queries
from ledger.journal.engine import Command, Create, Outcome, Resolve, execute
from ledger.journal.types import PostingSpec, TransactionRecord, TransactionSpec
from ledger.journal.validation import fingerprint, iso
from ledger.limits import BATCH_TRANSACTIONS_MAX, EXPIRY_BATCH_SIZE

SYSTEM_CLOCK = SystemClock()


def _request_hash(operation: str, spec: TransactionSpec, **extra: Any) -> str | None:
    """Fingerprint of what was asked, to tell a replay from a conflicting reuse of a key."""
    if not spec.idempotency_key:
        return None
    return fingerprint(
        {
            "operation": operation,
            "postings": [
                [p.account_id, p.direction, p.amount_minor, p.currency] for p in spec.postings
            ],
            "description": spec.description,
            "effective_at": iso(spec.effective_at),
            "expires_at": iso(spec.expires_at),
            "metadata": spec.metadata,
            **extra,
        }
    )


def _one(connection: Connection, command: Command, now: datetime) -> Outcome:
    (result,) = execute(connection, [command], now=now)
    if isinstance(result, LedgerError):
        raise result
    return result


def post_transaction(
    connection: Connection, spec: TransactionSpec, *, clock: Clock = SYSTEM_CLOCK
) -> TransactionRecord:
    """Record a posted transaction atomically, or raise and write nothing."""
    create = Create(spec, "posted", _request_hash("post", spec))
    return _one(connection, Command(creates=(create,)), clock.now()).transactions[0]


def create_pending(
    connection: Connection, spec: TransactionSpec, *, clock: Clock = SYSTEM_CLOCK
) -> TransactionRecord:
    """Reserve funds with a pending transaction (optionally expiring)."""
    create = Create(spec, "pending", _request_hash("pending", spec))
    return _one(connection, Command(creates=(create,)), clock.now()).transactions[0]


def post_pending(
    connection: Connection,
    transaction_id: uuid.UUID,
    *,
    amount_minor: int | None = None,
    postings: Sequence[PostingSpec] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> TransactionRecord:
    """Post a pending transaction in full, or in part.

    For a part, give ``amount_minor`` (two-legged holds: both legs take it) or
    ``postings`` leg by leg (same accounts, directions and currencies as the
    hold, each amount at most what was held, balanced). Returns the
    transaction that carries the posted amounts: the hold itself when posted in
    full, the new capture transaction otherwise.
    """
    hold = queries.get_transaction(connection, transaction_id)
    if hold.status != "pending":
        raise TransactionNotPending(
            f"transaction {transaction_id} is {hold.status}, not pending",
            transaction_id=str(transaction_id),
            status=hold.status,
        )
    captured = _captured_legs(hold, amount_minor, postings)
    now = clock.now()
    # The engine refuses to post an expired hold, but a partial capture voids the
    # hold and posts a new transaction, which it would let through.
    if hold.expires_at is not None and hold.expires_at <= now:
        raise PendingExpired(
            f"pending transaction {transaction_id} expired at {hold.expires_at.isoformat()}",
            transaction_id=str(transaction_id),
        )
    if captured is None:
        command = Command(resolves=(Resolve(transaction_id, "posted"),))
        return _one(connection, command, now).transactions[0]
    spec = TransactionSpec(
        postings=captured,
        description=hold.description,
        effective_at=hold.effective_at,
        metadata=hold.metadata,
        client_id=hold.client_id,  # the capture belongs to whoever placed the hold
    )
    command = Command(
        creates=(Create(spec, "posted", pending_id=transaction_id),),
        resolves=(Resolve(transaction_id, "voided"),),
    )
    return _one(connection, command, now).transactions[0]


def _captured_legs(
    hold: TransactionRecord,
    amount_minor: int | None,
    postings: Sequence[PostingSpec] | None,
) -> tuple[PostingSpec, ...] | None:
    """The legs of a partial capture, or None when the capture is in full."""
    if amount_minor is not None and postings is not None:
        raise ValidationFailed("give amount_minor or postings, not both")
    if amount_minor is None and postings is None:
        return None
    if amount_minor is not None:
        if len(hold.postings) != 2:
            raise ValidationFailed(
                "amount_minor applies to two-legged holds; give postings leg by leg",
                field="amount_minor",
            )
        postings = [
            PostingSpec(leg.account_id, leg.direction, amount_minor, leg.currency)
            for leg in hold.postings
        ]
    assert postings is not None
    legs = tuple(postings)
    if len(legs) != len(hold.postings):
        raise ValidationFailed(
            f"the hold has {len(hold.postings)} legs; the capture gives {len(legs)}",
            field="postings",
        )
    for index, (leg, held) in enumerate(zip(legs, hold.postings, strict=True)):
        if (leg.account_id, leg.direction, leg.currency) != (
            held.account_id,
            held.direction,
            held.currency,
        ):
            raise ValidationFailed(
                f"capture leg {index} must match the hold's account, direction and currency",
                field="postings",
                posting=index,
            )
        if isinstance(leg.amount_minor, int) and leg.amount_minor > held.amount_minor:
            raise AmountExceedsPending(
                f"capture leg {index} asks {leg.amount_minor}, the hold has {held.amount_minor}",
                posting=index,
                held_minor=held.amount_minor,
            )
    if all(
        leg.amount_minor == held.amount_minor for leg, held in zip(legs, hold.postings, strict=True)
    ):
        return None
    return legs


def void_pending(
    connection: Connection, transaction_id: uuid.UUID, *, clock: Clock = SYSTEM_CLOCK
) -> TransactionRecord:
    """Release a hold; nothing of it is posted."""
    command = Command(resolves=(Resolve(transaction_id, "voided"),))
    return _one(connection, command, clock.now()).transactions[0]


def expire_holds(
    connection: Connection, now: datetime, *, limit: int = EXPIRY_BATCH_SIZE
) -> list[uuid.UUID]:
    """Void up to ``limit`` holds whose ``expires_at`` is at or before ``now``.

    Holds resolved by someone else meanwhile are skipped, not errors. Returns
    the ids voided; call again while it returns a full batch.
    """
    ids = queries.pending_expired_ids(connection, now, limit)
    commands = [Command(resolves=(Resolve(transaction_id, "voided"),)) for transaction_id in ids]
    results = execute(connection, commands, now=now, atomic=False)
    return [tid for tid, result in zip(ids, results, strict=True) if isinstance(result, Outcome)]


def reverse_transaction(
    connection: Connection,
    transaction_id: uuid.UUID,
    *,
    description: str | None = None,
    effective_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    client_id: str = "",
    clock: Clock = SYSTEM_CLOCK,
) -> TransactionRecord:
    """Post the mirror image of a posted transaction, linked both ways."""
    original = queries.get_transaction(connection, transaction_id)
    if original.reversed_by_id is not None:
        reversal = queries.get_transaction(connection, original.reversed_by_id)
        same_request_again = idempotency_key is not None and (
            reversal.client_id,
            reversal.idempotency_key,
        ) == (client_id, idempotency_key)
        if not same_request_again:  # a replay is answered by the engine below
            raise AlreadyReversed(
                f"transaction {transaction_id} was already reversed by {reversal.id}",
                transaction_id=str(transaction_id),
                reversed_by_id=str(reversal.id),
            )
    if original.status != "posted":
        raise TransactionNotPosted(
            f"transaction {transaction_id} is {original.status}; only posted ones are reversed",
            transaction_id=str(transaction_id),
            status=original.status,
        )
    mirror = tuple(
        PostingSpec(
            leg.account_id,
            "credit" if leg.direction == "debit" else "debit",
            leg.amount_minor,
            leg.currency,
        )
        for leg in original.postings
    )
    spec = TransactionSpec(
        postings=mirror,
        description=description if description is not None else f"Reversal of {transaction_id}",
        effective_at=effective_at,
        metadata=metadata if metadata is not None else {},
        idempotency_key=idempotency_key,
        client_id=client_id,
    )
    request_hash = _request_hash("reverse", spec, reverses=str(transaction_id))
    create = Create(spec, "posted", request_hash, reverses_id=transaction_id)
    return _one(connection, Command(creates=(create,)), clock.now()).transactions[0]


def post_batch(
    connection: Connection, specs: Sequence[TransactionSpec], *, clock: Clock = SYSTEM_CLOCK
) -> list[TransactionRecord]:
    """Post up to BATCH_TRANSACTIONS_MAX transactions, all or nothing.

    Items are applied in order (a later item sees the balances left by earlier
    ones). If any item fails, nothing is written and BatchRejected maps each
    failing item's index to its error.
    """
    if not specs:
        raise ValidationFailed("a batch needs at least one transaction")
    if len(specs) > BATCH_TRANSACTIONS_MAX:
        raise LimitExceeded(
            f"a batch holds at most {BATCH_TRANSACTIONS_MAX} transactions, got {len(specs)}"
        )
    commands = [
        Command(creates=(Create(spec, "posted", _request_hash("post", spec)),)) for spec in specs
    ]
    results = execute(connection, commands, now=clock.now())
    errors = {i: result for i, result in enumerate(results) if isinstance(result, LedgerError)}
    if errors:
        raise BatchRejected(errors)
    return [result.transactions[0] for result in results if isinstance(result, Outcome)]
