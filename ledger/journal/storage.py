"""Row-level reads and writes of the posting path, one implementation per database.

The engine decides *what* to read, lock and write; a store decides *how*:

* :class:`CoreStore` (SQLite, and any other database): SQLAlchemy Core.
* ``PostgresStore`` (``storage_postgresql``): the psycopg cursor of the same
  connection and transaction, so the write is one statement and the hot path
  pays no per-statement framework cost (measured: client CPU per single post
  2.4 ms through Core, 0.8 ms this way, on the 2-core machine where the
  client shares the CPU with the database).

Both lock rows in ascending id order, which keeps concurrent writers free of
deadlocks, write balances as relative deltas (so a balance read without a lock
is never written back), and return the same row types.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, tuple_, update

from ledger.journal.models import Account, Posting, Transaction
from ledger.journal.types import PostingRecord

accounts = Account.__table__
transactions = Transaction.__table__
postings = Posting.__table__


class AccountRow(NamedTuple):
    id: int
    type: str
    currency: str
    closed_at: datetime | None
    allow_overdraft: bool
    overdraft_limit_minor: int | None
    debits_posted_minor: int
    credits_posted_minor: int
    debits_pending_minor: int
    credits_pending_minor: int


class TransactionRow(NamedTuple):
    id: uuid.UUID
    client_id: str
    idempotency_key: str | None
    request_hash: str | None
    description: str
    status: str
    effective_at: datetime
    created_at: datetime
    expires_at: datetime | None
    resolved_at: datetime | None
    reverses_id: uuid.UUID | None
    pending_id: uuid.UUID | None
    metadata: dict[str, Any]
    postings_count: int


class KeyRow(NamedTuple):
    id: uuid.UUID
    client_id: str
    idempotency_key: str
    request_hash: str


@dataclass
class Writes:
    """Everything one engine run writes, in table column order."""

    transactions: list[TransactionRow] = field(default_factory=list)
    postings: list[PostingRecord] = field(default_factory=list)
    resolutions: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    resolved_at: datetime | None = None
    # Changes to add, by account id ascending:
    # (account id, debits posted, credits posted, debits pending, credits pending)
    deltas: list[tuple[int, int, int, int, int]] = field(default_factory=list)


ACCOUNT_COLUMNS = AccountRow._fields
TRANSACTION_COLUMNS = TransactionRow._fields
POSTING_COLUMNS = PostingRecord._fields


class CoreStore:
    """SQLAlchemy Core; SQLite's BEGIN IMMEDIATE already serialises writers."""

    #: Whether the database itself refuses every new transaction the engine
    #: would (triggers and constraints). SQLite's schema checks only some.
    rechecks_everything = False

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def read_accounts(self, account_ids: Iterable[int], *, lock: bool) -> list[AccountRow]:
        """Accounts in id order; with ``lock``, FOR NO KEY UPDATE (PostgreSQL)."""
        ordered = sorted(set(account_ids))
        if not ordered:
            return []
        query = (
            select(*(accounts.c[name] for name in ACCOUNT_COLUMNS))
            .where(accounts.c.id.in_(ordered))
            .order_by(accounts.c.id)
        )
        if lock:
            query = query.with_for_update(key_share=True)
        return [AccountRow(*row) for row in self.connection.execute(query)]

    def lock_transactions(self, transaction_ids: Iterable[uuid.UUID]) -> list[TransactionRow]:
        ordered = sorted(set(transaction_ids))
        if not ordered:
            return []
        query = (
            select(*(transactions.c[name] for name in TRANSACTION_COLUMNS))
            .where(transactions.c.id.in_(ordered))
            .order_by(transactions.c.id)
            .with_for_update()
        )
        return [TransactionRow(*row) for row in self.connection.execute(query)]

    def load_postings(self, transaction_ids: Iterable[uuid.UUID]) -> list[PostingRecord]:
        ids = sorted(set(transaction_ids))
        if not ids:
            return []
        query = (
            select(*(postings.c[name] for name in POSTING_COLUMNS))
            .where(postings.c.transaction_id.in_(ids))
            .order_by(postings.c.transaction_id, postings.c.leg)
        )
        return [PostingRecord(*row) for row in self.connection.execute(query)]

    def reversals_of(self, transaction_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        ids = sorted(set(transaction_ids))
        if not ids:
            return {}
        rows = self.connection.execute(
            select(transactions.c.reverses_id, transactions.c.id).where(
                transactions.c.reverses_id.in_(ids)
            )
        )
        return {original: reversal for original, reversal in rows}

    def stored_keys(self, pairs: Iterable[tuple[str, str]]) -> list[KeyRow]:
        wanted = sorted(set(pairs))
        if not wanted:
            return []
        rows = self.connection.execute(
            select(
                transactions.c.id,
                transactions.c.client_id,
                transactions.c.idempotency_key,
                transactions.c.request_hash,
            ).where(tuple_(transactions.c.client_id, transactions.c.idempotency_key).in_(wanted))
        )
        return [KeyRow(*row) for row in rows]

    def write(self, writes: Writes) -> None:
        execute = self.connection.execute
        if writes.transactions:
            execute(insert(transactions), [row._asdict() for row in writes.transactions])
        if writes.postings:
            execute(insert(postings), [row._asdict() for row in writes.postings])
        if writes.resolutions:
            execute(
                update(transactions)
                .where(transactions.c.id == bindparam("target_id"))
                .where(transactions.c.status == "pending")
                .values(status=bindparam("new_status"), resolved_at=writes.resolved_at),
                [{"target_id": tid, "new_status": status} for tid, status in writes.resolutions],
            )
        if writes.deltas:
            names = (
                "debits_posted_minor",
                "credits_posted_minor",
                "debits_pending_minor",
                "credits_pending_minor",
            )
            execute(
                update(accounts)
                .where(accounts.c.id == bindparam("target_id"))
                .values({name: accounts.c[name] + bindparam(f"add_{name}") for name in names}),
                [
                    {
                        "target_id": row[0],
                        **{f"add_{n}": d for n, d in zip(names, row[1:], strict=True)},
                    }
                    for row in writes.deltas
                ],
            )


def store_for(connection: Connection) -> CoreStore:
    """The store for this connection's database (PostgresStore subclasses CoreStore)."""
    if connection.dialect.name == "postgresql":
        from ledger.journal.storage_postgresql import PostgresStore

        return PostgresStore(connection)
    return CoreStore(connection)
