"""Row-level reads and writes of the journal's hot path, set-based.

The engine decides *what* to write; this module decides *how*, per database:

* PostgreSQL: every bulk write is one statement over ``unnest`` of arrays, so a
  batch of 1,000 transactions is a handful of statements whatever its size, and
  the statement-level triggers see each transaction's postings together.
* SQLite: ``executemany`` through the driver (in-process, so no round trips).

Row locks are taken in ascending id order by every caller, which is what keeps
concurrent writers free of deadlocks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from ledger.journal.models import Account, Posting, Transaction

accounts = Account.__table__
transactions = Transaction.__table__
postings = Posting.__table__


@dataclass(frozen=True)
class AccountTotals:
    id: int
    debits_posted_minor: int
    credits_posted_minor: int
    debits_pending_minor: int
    credits_pending_minor: int


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_accounts(session: Session, account_ids: Iterable[int]) -> Sequence[Row[Any]]:
    """Read and lock accounts in id order (FOR NO KEY UPDATE on PostgreSQL).

    NO KEY UPDATE, not UPDATE: it still serialises balance changes but does not
    block the key-share locks that foreign keys take when postings are inserted.
    SQLite ignores the clause; its BEGIN IMMEDIATE already holds the write lock.
    """
    ordered = sorted(set(account_ids))
    if not ordered:
        return []
    query = (
        select(accounts)
        .where(accounts.c.id.in_(ordered))
        .order_by(accounts.c.id)
        .with_for_update(key_share=True)
    )
    return session.execute(query).all()


def lock_transactions(session: Session, transaction_ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    """Read and lock transactions in id order (before any account lock)."""
    ordered = sorted(set(transaction_ids))
    if not ordered:
        return []
    query = (
        select(transactions)
        .where(transactions.c.id.in_(ordered))
        .order_by(transactions.c.id)
        .with_for_update()
    )
    return session.execute(query).all()


def load_postings(session: Session, transaction_ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    ids = sorted(set(transaction_ids))
    if not ids:
        return []
    query = (
        select(postings)
        .where(postings.c.transaction_id.in_(ids))
        .order_by(postings.c.transaction_id, postings.c.leg)
    )
    return session.execute(query).all()


def reversals_of(
    session: Session, transaction_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """{original id: id of the transaction that reverses it} for those reversed."""
    ids = sorted(set(transaction_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(transactions.c.reverses_id, transactions.c.id).where(
            transactions.c.reverses_id.in_(ids)
        )
    ).all()
    return {original: reversal for original, reversal in rows}


_PG_INSERT_POSTINGS = text(
    "INSERT INTO postings "
    "(transaction_id, leg, account_id, direction, amount_minor, currency, effective_at) "
    "SELECT * FROM unnest("
    "CAST(:transaction_id AS uuid[]), CAST(:leg AS smallint[]), CAST(:account_id AS bigint[]), "
    "CAST(:direction AS text[]), CAST(:amount_minor AS bigint[]), CAST(:currency AS text[]), "
    "CAST(:effective_at AS timestamptz[]))"
)

_PG_INSERT_TRANSACTIONS = text(
    "INSERT INTO transactions "
    "(id, client_id, idempotency_key, request_hash, description, status, effective_at, "
    "created_at, expires_at, resolved_at, reverses_id, pending_id, metadata) "
    "SELECT * FROM unnest("
    "CAST(:id AS uuid[]), CAST(:client_id AS text[]), CAST(:idempotency_key AS text[]), "
    "CAST(:request_hash AS text[]), CAST(:description AS text[]), CAST(:status AS text[]), "
    "CAST(:effective_at AS timestamptz[]), CAST(:created_at AS timestamptz[]), "
    "CAST(:expires_at AS timestamptz[]), CAST(:resolved_at AS timestamptz[]), "
    "CAST(:reverses_id AS uuid[]), CAST(:pending_id AS uuid[]), CAST(:metadata AS jsonb[]))"
)

_PG_UPDATE_TOTALS = text(
    "UPDATE accounts AS a SET "
    "debits_posted_minor = v.debits_posted_minor, credits_posted_minor = v.credits_posted_minor, "
    "debits_pending_minor = v.debits_pending_minor, "
    "credits_pending_minor = v.credits_pending_minor "
    "FROM unnest(CAST(:id AS bigint[]), CAST(:debits_posted_minor AS bigint[]), "
    "CAST(:credits_posted_minor AS bigint[]), CAST(:debits_pending_minor AS bigint[]), "
    "CAST(:credits_pending_minor AS bigint[])) "
    "AS v(id, debits_posted_minor, credits_posted_minor, debits_pending_minor, "
    "credits_pending_minor) "
    "WHERE a.id = v.id"
)

_PG_RESOLVE = text(
    "UPDATE transactions AS t SET status = v.status, resolved_at = :resolved_at "
    "FROM unnest(CAST(:id AS uuid[]), CAST(:status AS text[])) AS v(id, status) "
    "WHERE t.id = v.id AND t.status = 'pending'"
)


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in names}


def insert_postings(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert postings; on PostgreSQL in one statement, whatever the count."""
    if not rows:
        return
    if _is_postgresql(session):
        names = (
            "transaction_id",
            "leg",
            "account_id",
            "direction",
            "amount_minor",
            "currency",
            "effective_at",
        )
        session.execute(_PG_INSERT_POSTINGS, _columns(rows, names))
    else:
        session.execute(insert(postings), list(rows))


def insert_transactions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert transaction rows (after their postings: the foreign key is deferred)."""
    if not rows:
        return
    if _is_postgresql(session):
        names = (
            "id",
            "client_id",
            "idempotency_key",
            "request_hash",
            "description",
            "status",
            "effective_at",
            "created_at",
            "expires_at",
            "resolved_at",
            "reverses_id",
            "pending_id",
        )
        parameters = _columns(rows, names)
        parameters["metadata"] = [
            json.dumps(row["metadata"], separators=(",", ":")) for row in rows
        ]
        session.execute(_PG_INSERT_TRANSACTIONS, parameters)
    else:
        session.execute(insert(transactions), list(rows))


def resolve_transactions(
    session: Session, changes: Sequence[tuple[uuid.UUID, str]], resolved_at: datetime
) -> None:
    """Move locked pending transactions to ``posted`` or ``voided``."""
    if not changes:
        return
    if _is_postgresql(session):
        session.execute(
            _PG_RESOLVE,
            {
                "id": [change[0] for change in changes],
                "status": [change[1] for change in changes],
                "resolved_at": resolved_at,
            },
        )
    else:
        statement = (
            update(transactions)
            .where(transactions.c.id == bindparam("target_id"))
            .where(transactions.c.status == "pending")
            .values(status=bindparam("new_status"), resolved_at=resolved_at)
        )
        session.execute(
            statement,
            [{"target_id": change[0], "new_status": change[1]} for change in changes],
        )


def write_account_totals(session: Session, totals: Sequence[AccountTotals]) -> None:
    """Store new balance totals for locked accounts, one statement on PostgreSQL."""
    if not totals:
        return
    names = (
        "debits_posted_minor",
        "credits_posted_minor",
        "debits_pending_minor",
        "credits_pending_minor",
    )
    if _is_postgresql(session):
        parameters: dict[str, list[int]] = {"id": [row.id for row in totals]}
        for name in names:
            parameters[name] = [getattr(row, name) for row in totals]
        session.execute(_PG_UPDATE_TOTALS, parameters)
    else:
        statement = (
            update(accounts)
            .where(accounts.c.id == bindparam("target_id"))
            .values({name: bindparam(name) for name in names})
        )
        session.execute(
            statement,
            [
                {"target_id": row.id, **{name: getattr(row, name) for name in names}}
                for row in totals
            ],
        )
