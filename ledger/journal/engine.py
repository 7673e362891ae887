"""The one path that writes postings and balances.

Every journal operation (post, hold, capture, void, reverse, batch, expiry)
is a list of :class:`Command` run by :func:`execute`:

1. Validate each command's specs without the database (shape, amounts, balance
   per currency, metadata).
2. Idempotency: look the keys up; the same key with the same fingerprint is a
   replay (nothing written), with another fingerprint a conflict.
3. Lock the pending transactions being resolved (id order) and read every
   account touched (id order).
4. Simulate the commands in order on those balances. A command that fails
   (unknown or closed account, currency mismatch, balance floor, overflow,
   already reversed) is recorded with its error and leaves the balances as
   they were; later commands see the balances without it.
5. With ``atomic=True`` (the default) any failure means nothing is written.
6. Write set-based through the database's store, in one statement on
   PostgreSQL: transaction rows, postings, status changes, and the balance
   *changes*, added to each account in ascending id order.

Locking is optimistic on the first attempt: accounts are read without a lock,
so a hot account stays locked only from the write to the commit, not for the
whole request. The database re-checks what the simulation relied on, under the
lock: the balance floor (a CHECK) and that each account exists, is open and
holds the currency (a trigger). If a concurrent writer made the read stale, one
of those named constraints fails, the unit of work retries, and every retry
reads with FOR NO KEY UPDATE in id order, so it sees the truth and answers
exactly (insufficient funds, account closed, ...). Writers always lock accounts
in ascending id order, so they never deadlock each other.

Nothing here commits: the caller's unit of work does (``Database.run``).
"""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection

from ledger.clock import ensure_utc
from ledger.db import RaceConstraint, attempt_of, register_race_constraint
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
from ledger.journal.storage import AccountRow, TransactionRow, Writes
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
# What an optimistic write relied on and the database re-checks under the lock.
register_race_constraint(RaceConstraint("ck_accounts_balance_floor"))
register_race_constraint(RaceConstraint("journal_posting_account"))


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


@dataclass
class _Locked:
    """What the engine read and locked before simulating."""

    accounts: dict[int, _Account]
    pending: dict[uuid.UUID, TransactionRow]
    pending_postings: dict[uuid.UUID, list[PostingRecord]]
    reversed_by: dict[uuid.UUID, uuid.UUID]
    resolved: set[uuid.UUID]
    # Changes of the accepted commands, per account: (debits posted, credits
    # posted, debits pending, credits pending).
    deltas: dict[int, list[int]] = field(default_factory=dict)


def execute(
    connection: Connection,
    commands: list[Command],
    *,
    now: datetime,
    atomic: bool = True,
) -> list[Result]:
    """Run ``commands`` in order; return an Outcome or a LedgerError for each.

    With ``atomic`` true, a single error means nothing at all is written.
    """
    now = ensure_utc(now)
    store = storage.store_for(connection)
    results: list[Result | None] = [None] * len(commands)

    for index, command in enumerate(commands):
        try:
            for create in command.creates:
                validate_transaction_spec(create.spec, pending=create.status == "pending", now=now)
        except LedgerError as error:
            results[index] = error

    attempt = attempt_of(connection)
    # Unchecked: the database re-checks everything the simulation checks for new
    # transactions, so a first attempt that creates (and resolves nothing) need
    # not read: a violation is a named race, retried below in exact mode.
    unchecked = (
        store.rechecks_everything
        and attempt == 1
        and not any(command.resolves for command in commands)
        and all(result is None for result in results)  # else report every error exactly
    )
    replay_of = {} if unchecked else _check_idempotency(connection, store, commands, results)
    live = [i for i, result in enumerate(results) if result is None and i not in replay_of]
    if unchecked:
        locked = _Locked({}, {}, {}, {}, set())
    else:
        locked = _read(store, [commands[i] for i in live], lock=attempt > 1)

    writes = Writes(resolved_at=now)
    for index in live:
        try:
            results[index] = _simulate(commands[index], now, locked, writes, check=not unchecked)
        except LedgerError as error:
            results[index] = error

    for index, (first, stored) in replay_of.items():
        if stored is not None:
            results[index] = stored
        else:
            earlier = results[first]
            if isinstance(earlier, Outcome):
                replayed = tuple(_as_replayed(record) for record in earlier.transactions)
                results[index] = Outcome(replayed, replayed=True)
            else:
                results[index] = earlier

    final: list[Result] = [result for result in results if result is not None]
    assert len(final) == len(commands)
    if atomic and any(isinstance(result, LedgerError) for result in final):
        return final
    writes.deltas = [
        (account_id, *locked.deltas[account_id]) for account_id in sorted(locked.deltas)
    ]
    store.write(writes)
    return final


def _read(store: storage.CoreStore, commands: list[Command], *, lock: bool) -> _Locked:
    """Lock pending transactions to resolve, then read (or lock) accounts, in id order."""
    pending = {
        row.id: row
        for row in store.lock_transactions(
            r.transaction_id for command in commands for r in command.resolves
        )
    }
    pending_postings: dict[uuid.UUID, list[PostingRecord]] = defaultdict(list)
    for posting in store.load_postings(pending):
        pending_postings[posting.transaction_id].append(posting)
    account_ids = {
        p.account_id for command in commands for c in command.creates for p in c.spec.postings
    }
    account_ids |= {p.account_id for rows in pending_postings.values() for p in rows}
    accounts = {
        row.id: _account_from_row(row) for row in store.read_accounts(account_ids, lock=lock)
    }
    # Read after the accounts: with the locks of a retry, a concurrent reversal
    # of the same original (same accounts) has committed or not started. It must
    # be reported as such, not as the insufficient funds it left behind.
    reversed_by = store.reversals_of(
        c.reverses_id for command in commands for c in command.creates if c.reverses_id
    )
    return _Locked(accounts, pending, pending_postings, reversed_by, set())


def _check_idempotency(
    connection: Connection,
    store: storage.CoreStore,
    commands: list[Command],
    results: list[Result | None],
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
    pairs = {(c.spec.client_id, c.spec.idempotency_key or "") for c in keyed.values()}
    stored = {(row.client_id, row.idempotency_key): row for row in store.stored_keys(pairs)}
    stored_records = {
        record.id: record
        for record in queries.load_transactions(connection, [row.id for row in stored.values()])
    }
    replay_of: dict[int, tuple[int, Outcome | None]] = {}
    first_in_batch: dict[tuple[str, str | None], int] = {}
    for index, create in keyed.items():
        key = (create.spec.client_id, create.spec.idempotency_key)
        row = stored.get(key)  # type: ignore[arg-type]
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
    return record._replace(replayed=True)


def _account_from_row(row: AccountRow) -> _Account:
    totals = Totals.of(row)
    return _Account(
        id=row.id,
        currency=row.currency,
        normal_side=normal_side(row.type),
        closed=row.closed_at is not None,
        floor=balance.floor(row.allow_overdraft, row.overdraft_limit_minor),
        totals=totals,
    )


# Position of a posting's amount in an account's totals, by (direction, pending).
_SLOT = {("debit", False): 0, ("credit", False): 1, ("debit", True): 2, ("credit", True): 3}


def _simulate(
    command: Command, now: datetime, locked: _Locked, writes: Writes, *, check: bool
) -> Outcome:
    """Apply one command to the read totals, or raise and leave them untouched.

    Without ``check`` (an unchecked first attempt) nothing was read: the command
    only contributes its changes, and the database refuses what it must.
    """
    # Per account: changes to (debits posted, credits posted, debits pending,
    # credits pending), as plain integers: this loop runs per posting.
    changes: dict[int, list[int]] = {}

    for create in command.creates:
        if create.reverses_id is not None and create.reverses_id in locked.reversed_by:
            reversal = locked.reversed_by[create.reverses_id]
            raise AlreadyReversed(
                f"transaction {create.reverses_id} was already reversed by {reversal}",
                transaction_id=str(create.reverses_id),
                reversed_by_id=str(reversal),
            )

    for resolve in command.resolves:
        row = locked.pending.get(resolve.transaction_id)
        if row is None:
            raise TransactionNotFound(
                f"transaction {resolve.transaction_id} does not exist",
                transaction_id=str(resolve.transaction_id),
            )
        if row.status != "pending" or row.id in locked.resolved:
            status = "resolved" if row.id in locked.resolved else row.status
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
        for posting in locked.pending_postings[row.id]:
            change = changes.setdefault(posting.account_id, [0, 0, 0, 0])
            change[_SLOT[posting.direction, True]] -= posting.amount_minor  # release the hold
            if resolve.status == "posted":
                change[_SLOT[posting.direction, False]] += posting.amount_minor

    for create in command.creates:
        pending = create.status == "pending"
        for index, posting in enumerate(create.spec.postings):
            if not check:
                change = changes.setdefault(posting.account_id, [0, 0, 0, 0])
                change[_SLOT[posting.direction, pending]] += posting.amount_minor
                continue
            account = locked.accounts.get(posting.account_id)
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
            change = changes.setdefault(posting.account_id, [0, 0, 0, 0])
            change[_SLOT[posting.direction, pending]] += posting.amount_minor

    if check:
        after = {
            account_id: _checked(locked.accounts[account_id], Totals(*changes[account_id]))
            for account_id in sorted(changes)
        }
        for account_id, totals in after.items():
            locked.accounts[account_id].totals = totals

    # Everything checked: commit the command to the simulation and the writes.
    for account_id, change in changes.items():
        total = locked.deltas.get(account_id)
        if total is None:
            locked.deltas[account_id] = change
        else:
            for slot in range(4):
                total[slot] += change[slot]
    records: list[TransactionRecord] = []
    captured_by: dict[uuid.UUID, uuid.UUID] = {}
    for create in command.creates:
        record = _plan_create(create, now, writes)
        if create.pending_id is not None:
            captured_by[create.pending_id] = record.id
        if create.reverses_id is not None:
            locked.reversed_by[create.reverses_id] = record.id  # a second one in a batch fails
        records.append(record)
    for resolve in command.resolves:
        locked.resolved.add(resolve.transaction_id)
        writes.resolutions.append((resolve.transaction_id, resolve.status))
        records.append(
            _resolved_record(
                locked.pending[resolve.transaction_id],
                locked.pending_postings[resolve.transaction_id],
                resolve.status,
                now,
                captured_by.get(resolve.transaction_id),
            )
        )
    return Outcome(tuple(records))


def _checked(account: _Account, change: Totals) -> Totals:
    """The account's totals after ``change``, or the error that forbids them."""
    totals = account.totals.plus(change)
    assert totals.smallest() >= 0, "a release exceeded what was held"
    if totals.largest() > AMOUNT_MINOR_MAX:
        raise BalanceOverflow(
            f"account {account.id} totals would exceed 64 bits", account_id=account.id
        )
    before = balance.available(account.totals, account.normal_side)
    after = balance.available(totals, account.normal_side)
    if account.floor is not None and after < account.floor and after < before:
        required = before - after
        raise InsufficientFunds(
            f"account {account.id} has {format_minor(before, account.currency)} available; "
            f"this needs {format_minor(required, account.currency)} and the floor is "
            f"{format_minor(account.floor, account.currency)}",
            account_id=account.id,
            available_minor=before,
            required_minor=required,
            floor_minor=account.floor,
            currency=account.currency,
        )
    return totals


def _plan_create(create: Create, now: datetime, writes: Writes) -> TransactionRecord:
    spec = create.spec
    transaction_id = uuid7()
    effective_at = ensure_utc(spec.effective_at) if spec.effective_at is not None else now
    expires_at = ensure_utc(spec.expires_at) if spec.expires_at is not None else None
    # Copy so a caller mutating its dict later cannot change what was recorded.
    metadata = copy.deepcopy(spec.metadata) if spec.metadata else {}
    legs = tuple(
        PostingRecord(
            transaction_id,
            leg,
            posting.account_id,
            posting.direction,
            posting.amount_minor,
            posting.currency,
            effective_at,
        )
        for leg, posting in enumerate(spec.postings)
    )
    writes.postings.extend(legs)
    writes.transactions.append(
        TransactionRow(
            id=transaction_id,
            client_id=spec.client_id,
            idempotency_key=spec.idempotency_key,
            request_hash=create.request_hash if spec.idempotency_key else None,
            description=spec.description,
            status=create.status,
            effective_at=effective_at,
            created_at=now,
            expires_at=expires_at,
            resolved_at=None,
            reverses_id=create.reverses_id,
            pending_id=create.pending_id,
            metadata=metadata,
            postings_count=len(spec.postings),
        )
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
        metadata=metadata,
        postings=legs,
    )


def _resolved_record(
    row: TransactionRow,
    postings: list[PostingRecord],
    status: Literal["posted", "voided"],
    now: datetime,
    captured_by_id: uuid.UUID | None,
) -> TransactionRecord:
    resolved = row._replace(status=status, resolved_at=now)
    return queries.transaction_record(resolved, postings, captured_by_id=captured_by_id)
