"""The one path that writes postings and balances.

Every journal operation (post, hold, capture, void, reverse, batch, expiry)
is a list of :class:`Command` run by :func:`execute`:

1. Validate each command's specs without the database (shape, amounts, balance
   per currency, metadata).
2. Idempotency: look the keys up; the same key with the same fingerprint is a
   replay (nothing written), with another fingerprint a conflict.
3. Lock the pending transactions being resolved, in id order, then every account
   touched, in id order. Every writer locks in this order, so writers never
   deadlock each other.
4. Simulate the commands in order on the locked totals. A command that fails
   (unknown or closed account, currency mismatch, balance floor, overflow) is
   recorded with its error and leaves the totals as they were; later commands
   see the totals without it.
5. With ``atomic=True`` (the default) any failure means nothing is written.
6. Write set-based: postings, transaction rows, status changes, one update per
   distinct account.

Nothing here commits: the caller's unit of work does (``Database.run``).
"""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, select, tuple_
from sqlalchemy.orm import Session

from ledger.clock import ensure_utc
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import (
    AccountClosed,
    AccountNotFound,
    AlreadyReversed,
    BalanceOverflow,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    PendingExpired,
    TransactionNotFound,
    TransactionNotPending,
)
from ledger.ids import uuid7
from ledger.journal import balance, queries, storage
from ledger.journal.balance import Totals
from ledger.journal.models import Transaction
from ledger.journal.types import PostingRecord, TransactionRecord, TransactionSpec, normal_side
from ledger.journal.validation import validate_transaction_spec
from ledger.limits import AMOUNT_MINOR_MAX
from ledger.money import format_minor

# Unique keys that two concurrent requests can both try to take. The loser's unit
# of work is re-run and then sees the winner's row (a replay, AlreadyReversed...).
for _name, _columns in (
    ("uq_transactions_client_id_idempotency_key", ("client_id", "idempotency_key")),
    ("uq_transactions_reverses_id", ("reverses_id",)),
    ("uq_transactions_pending_id", ("pending_id",)),
):
    register_race_constraint(RaceConstraint(_name, "transactions", _columns))


@dataclass(frozen=True)
class Create:
    """Record a new transaction with ``status`` posted or pending."""

    spec: TransactionSpec
    status: Literal["posted", "pending"]
    request_hash: str | None = None  # fingerprint of the request, when keyed
    reverses_id: uuid.UUID | None = None
    pending_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Resolve:
    """Move a pending transaction to posted (its postings count) or voided."""

    transaction_id: uuid.UUID
    status: Literal["posted", "voided"]


@dataclass(frozen=True)
class Command:
    """What one request asks for; succeeds or fails as a whole."""

    creates: tuple[Create, ...] = ()
    resolves: tuple[Resolve, ...] = ()

    def __post_init__(self) -> None:
        keyed = [create for create in self.creates if create.spec.idempotency_key]
        assert len(keyed) <= 1, "a command carries at most one idempotency key"


@dataclass(frozen=True)
class Outcome:
    transactions: tuple[TransactionRecord, ...]
    replayed: bool = False


Result = Outcome | LedgerError


@dataclass
class _Account:
    """A locked account as the simulation sees it."""

    id: int
    currency: str
    normal_side: Literal["debit", "credit"]
    closed: bool
    floor: int | None
    totals: Totals
    changed: bool = False


@dataclass
class _Plan:
    """What the successful commands will write."""

    posting_rows: list[dict[str, Any]] = field(default_factory=list)
    transaction_rows: list[dict[str, Any]] = field(default_factory=list)
    resolutions: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def execute(
    session: Session,
    commands: list[Command],
    *,
    now: datetime,
    atomic: bool = True,
) -> list[Result]:
    """Run ``commands`` in order; return an Outcome or a LedgerError for each.

    With ``atomic`` true, a single error means nothing at all is written.
    """
    now = ensure_utc(now)
    results: list[Result | None] = [None] * len(commands)

    for index, command in enumerate(commands):
        try:
            for create in command.creates:
                validate_transaction_spec(create.spec, pending=create.status == "pending", now=now)
        except LedgerError as error:
            results[index] = error

    replay_of = _check_idempotency(session, commands, results)

    live = [i for i, result in enumerate(results) if result is None and i not in replay_of]
    resolve_ids = {r.transaction_id for i in live for r in commands[i].resolves}
    pending_rows = {row.id: row for row in storage.lock_transactions(session, resolve_ids)}
    pending_postings: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
    for posting in storage.load_postings(session, pending_rows):
        pending_postings[posting.transaction_id].append(posting)

    account_ids = {p.account_id for i in live for c in commands[i].creates for p in c.spec.postings}
    account_ids |= {p.account_id for rows in pending_postings.values() for p in rows}
    locked = {row.id: _account_from_row(row) for row in storage.lock_accounts(session, account_ids)}
    # Read after the account locks: a concurrent reversal of the same original
    # touches the same accounts, so by now it has committed or not started. It
    # must be reported as such, not as the insufficient funds it left behind.
    reversed_by = storage.reversals_of(
        session, {c.reverses_id for i in live for c in commands[i].creates if c.reverses_id}
    )

    plan = _Plan()
    outcomes: dict[int, Outcome] = {}
    resolved: set[uuid.UUID] = set()
    for index in live:
        try:
            outcomes[index] = _simulate(
                commands[index],
                now,
                locked,
                pending_rows,
                pending_postings,
                resolved,
                reversed_by,
                plan,
            )
        except LedgerError as error:
            results[index] = error

    for index, outcome in outcomes.items():
        results[index] = outcome
    for index, (first, existing) in replay_of.items():
        if existing is not None:
            results[index] = existing
        elif isinstance(results[first], Outcome):
            results[index] = Outcome(
                tuple(_as_replayed(r) for r in results[first].transactions), replayed=True
            )
        else:
            results[index] = results[first]

    final: list[Result] = [result for result in results if result is not None]
    assert len(final) == len(commands)
    if atomic and any(isinstance(result, LedgerError) for result in final):
        return final
    _write(session, plan, locked, now)
    return final


def _check_idempotency(
    session: Session, commands: list[Command], results: list[Result | None]
) -> dict[int, tuple[int, Outcome | None]]:
    """Find replays and conflicts; return {index: (first index, stored outcome)}.

    A replay of a stored transaction carries its Outcome; a repeat of an earlier
    command of the same batch carries that command's index (its outcome is only
    known after the simulation).
    """
    keyed: dict[int, Create] = {}
    for index, command in enumerate(commands):
        if results[index] is None:
            for create in command.creates:
                if create.spec.idempotency_key:
                    keyed[index] = create
    if not keyed:
        return {}
    pairs = {(c.spec.client_id, c.spec.idempotency_key) for c in keyed.values()}
    table = Transaction.__table__
    stored = {
        (row.client_id, row.idempotency_key): row
        for row in session.execute(
            select(
                table.c.id, table.c.client_id, table.c.idempotency_key, table.c.request_hash
            ).where(tuple_(table.c.client_id, table.c.idempotency_key).in_(sorted(pairs)))
        )
    }
    stored_records = {
        record.id: record
        for record in queries.load_transactions(session, [row.id for row in stored.values()])
    }
    replay_of: dict[int, tuple[int, Outcome | None]] = {}
    first_in_batch: dict[tuple[str, str | None], int] = {}
    for index, create in keyed.items():
        key = (create.spec.client_id, create.spec.idempotency_key)
        row = stored.get(key)
        if row is not None:
            if row.request_hash != create.request_hash:
                results[index] = _conflict(create)
                continue
            record = _as_replayed(stored_records[row.id])
            replay_of[index] = (index, Outcome((record,), replayed=True))
        elif key in first_in_batch:
            first = first_in_batch[key]
            if keyed[first].request_hash != create.request_hash:
                results[index] = _conflict(create)
            else:
                replay_of[index] = (first, None)
        else:
            first_in_batch[key] = index
    return replay_of


def _conflict(create: Create) -> IdempotencyConflict:
    return IdempotencyConflict(
        "this idempotency key was already used with a different request",
        idempotency_key=create.spec.idempotency_key,
    )


def _as_replayed(record: TransactionRecord) -> TransactionRecord:
    return TransactionRecord(**{**record.__dict__, "replayed": True})


def _account_from_row(row: Row[Any]) -> _Account:
    return _Account(
        id=row.id,
        currency=row.currency,
        normal_side=normal_side(row.type),
        closed=row.closed_at is not None,
        floor=balance.floor(row.allow_overdraft, row.overdraft_limit_minor),
        totals=Totals(
            row.debits_posted_minor,
            row.credits_posted_minor,
            row.debits_pending_minor,
            row.credits_pending_minor,
        ),
    )


def _simulate(
    command: Command,
    now: datetime,
    locked: dict[int, _Account],
    pending_rows: dict[uuid.UUID, Row[Any]],
    pending_postings: dict[uuid.UUID, list[Row[Any]]],
    resolved: set[uuid.UUID],
    reversed_by: dict[uuid.UUID, uuid.UUID],
    plan: _Plan,
) -> Outcome:
    """Apply one command to the locked totals, or raise and leave them untouched."""
    changes: dict[int, Totals] = defaultdict(Totals)

    for create in command.creates:
        if create.reverses_id is not None and create.reverses_id in reversed_by:
            raise AlreadyReversed(
                f"transaction {create.reverses_id} was already reversed by "
                f"{reversed_by[create.reverses_id]}",
                transaction_id=str(create.reverses_id),
                reversed_by_id=str(reversed_by[create.reverses_id]),
            )

    for resolve in command.resolves:
        row = pending_rows.get(resolve.transaction_id)
        if row is None:
            raise TransactionNotFound(
                f"transaction {resolve.transaction_id} does not exist",
                transaction_id=str(resolve.transaction_id),
            )
        if row.status != "pending" or row.id in resolved:
            status = "resolved" if row.id in resolved else row.status
            raise TransactionNotPending(
                f"transaction {row.id} is {status}, not pending",
                transaction_id=str(row.id),
                status=status,
            )
        if resolve.status == "posted" and row.expires_at is not None and row.expires_at <= now:
            raise PendingExpired(
                f"pending transaction {row.id} expired at {row.expires_at.isoformat()}",
                transaction_id=str(row.id),
            )
        for posting in pending_postings[row.id]:
            release = balance.delta(posting.direction, -posting.amount_minor, pending=True)
            changes[posting.account_id] = changes[posting.account_id].plus(release)
            if resolve.status == "posted":
                book = balance.delta(posting.direction, posting.amount_minor, pending=False)
                changes[posting.account_id] = changes[posting.account_id].plus(book)

    for create in command.creates:
        for index, posting in enumerate(create.spec.postings):
            account = locked.get(posting.account_id)
            if account is None:
                raise AccountNotFound(
                    f"account {posting.account_id} does not exist",
                    account_id=posting.account_id,
                    posting=index,
                )
            if account.closed:
                raise AccountClosed(
                    f"account {posting.account_id} is closed",
                    account_id=posting.account_id,
                    posting=index,
                )
            if posting.currency != account.currency:
                raise CurrencyMismatch(
                    f"posting {index} is in {posting.currency} but account "
                    f"{posting.account_id} holds {account.currency}",
                    account_id=posting.account_id,
                    posting=index,
                )
            change = balance.delta(
                posting.direction, posting.amount_minor, pending=create.status == "pending"
            )
            changes[posting.account_id] = changes[posting.account_id].plus(change)

    after: dict[int, Totals] = {}
    for account_id in sorted(changes):
        account = locked[account_id]
        totals = account.totals.plus(changes[account_id])
        assert totals.smallest() >= 0, "a release exceeded what was held"
        if totals.largest() > AMOUNT_MINOR_MAX:
            raise BalanceOverflow(
                f"account {account_id} totals would exceed 64 bits", account_id=account_id
            )
        before_available = balance.available(account.totals, account.normal_side)
        after_available = balance.available(totals, account.normal_side)
        if (
            account.floor is not None
            and after_available < account.floor
            and after_available < before_available
        ):
            required = before_available - after_available
            raise InsufficientFunds(
                f"account {account_id} has {format_minor(before_available, account.currency)} "
                f"available; this needs {format_minor(required, account.currency)} and the "
                f"floor is {format_minor(account.floor, account.currency)}",
                account_id=account_id,
                available_minor=before_available,
                required_minor=required,
                floor_minor=account.floor,
                currency=account.currency,
            )
        after[account_id] = totals

    # Everything checked: commit the command to the simulation and the plan.
    for account_id, totals in after.items():
        locked[account_id].totals = totals
        locked[account_id].changed = True

    records: list[TransactionRecord] = []
    created_ids: dict[uuid.UUID, uuid.UUID] = {}
    for create in command.creates:
        record = _plan_create(create, now, plan)
        if create.pending_id is not None:
            created_ids[create.pending_id] = record.id
        if create.reverses_id is not None:
            reversed_by[create.reverses_id] = record.id  # a second one in the batch fails
        records.append(record)
    for resolve in command.resolves:
        resolved.add(resolve.transaction_id)
        plan.resolutions.append((resolve.transaction_id, resolve.status))
        records.append(
            _resolved_record(
                pending_rows[resolve.transaction_id],
                pending_postings[resolve.transaction_id],
                resolve.status,
                now,
                created_ids.get(resolve.transaction_id),
            )
        )
    return Outcome(tuple(records))


def _plan_create(create: Create, now: datetime, plan: _Plan) -> TransactionRecord:
    spec = create.spec
    transaction_id = uuid7()
    effective_at = ensure_utc(spec.effective_at) if spec.effective_at is not None else now
    expires_at = ensure_utc(spec.expires_at) if spec.expires_at is not None else None
    metadata = copy.deepcopy(spec.metadata)
    postings = []
    for leg, posting in enumerate(spec.postings):
        plan.posting_rows.append(
            {
                "transaction_id": transaction_id,
                "leg": leg,
                "account_id": posting.account_id,
                "direction": posting.direction,
                "amount_minor": posting.amount_minor,
                "currency": posting.currency,
                "effective_at": effective_at,
            }
        )
        postings.append(
            PostingRecord(
                transaction_id,
                leg,
                posting.account_id,
                posting.direction,
                posting.amount_minor,
                posting.currency,
            )
        )
    plan.transaction_rows.append(
        {
            "id": transaction_id,
            "client_id": spec.client_id,
            "idempotency_key": spec.idempotency_key,
            "request_hash": create.request_hash if spec.idempotency_key else None,
            "description": spec.description,
            "status": create.status,
            "effective_at": effective_at,
            "created_at": now,
            "expires_at": expires_at,
            "resolved_at": None,
            "reverses_id": create.reverses_id,
            "pending_id": create.pending_id,
            "metadata": metadata,
        }
    )
    return TransactionRecord(
        id=transaction_id,
        status=create.status,
        description=spec.description,
        effective_at=effective_at,
        created_at=now,
        expires_at=expires_at,
        resolved_at=None,
        reverses_id=create.reverses_id,
        reversed_by_id=None,
        pending_id=create.pending_id,
        captured_by_id=None,
        client_id=spec.client_id,
        idempotency_key=spec.idempotency_key,
        metadata=copy.deepcopy(metadata),
        postings=tuple(postings),
    )


def _resolved_record(
    row: Row[Any],
    postings: list[Row[Any]],
    status: str,
    now: datetime,
    captured_by_id: uuid.UUID | None,
) -> TransactionRecord:
    return TransactionRecord(
        id=row.id,
        status=status,  # type: ignore[arg-type]
        description=row.description,
        effective_at=row.effective_at,
        created_at=row.created_at,
        expires_at=row.expires_at,
        resolved_at=now,
        reverses_id=row.reverses_id,
        reversed_by_id=None,
        pending_id=row.pending_id,
        captured_by_id=captured_by_id,
        client_id=row.client_id,
        idempotency_key=row.idempotency_key,
        metadata=row.metadata,
        postings=tuple(
            PostingRecord(
                p.transaction_id, p.leg, p.account_id, p.direction, p.amount_minor, p.currency
            )
            for p in postings
        ),
    )


def _write(session: Session, plan: _Plan, locked: dict[int, _Account], now: datetime) -> None:
    # Postings before their transactions: the foreign key is deferred, and the
    # PostgreSQL triggers check each transaction's postings when its row lands.
    storage.insert_postings(session, plan.posting_rows)
    storage.insert_transactions(session, plan.transaction_rows)
    storage.resolve_transactions(session, plan.resolutions, now)
    storage.write_account_totals(
        session,
        [
            storage.AccountTotals(
                account.id,
                account.totals.debits_posted_minor,
                account.totals.credits_posted_minor,
                account.totals.debits_pending_minor,
                account.totals.credits_pending_minor,
            )
            for account in sorted(locked.values(), key=lambda a: a.id)
            if account.changed
        ],
    )
