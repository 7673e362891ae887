"""The PostgreSQL store: the posting path on psycopg, inside SQLAlchemy's transaction.

* It uses the psycopg connection under the caller's SQLAlchemy ``Connection``,
  so it is part of the same database transaction and unit of work.
* Arrays travel as PostgreSQL array literals built here (one text parameter
  each) and are expanded server-side with ``unnest``: psycopg's list dumper
  works element by element in Python and cost more than everything else.
* The whole write (transactions, postings, resolutions, balances) is one
  statement of writable CTEs: one round trip, and the journal's statement-level
  triggers see a transaction and its postings together.
* Driver errors are re-raised as SQLAlchemy's exception types, so the unit of
  work retries deadlocks and idempotency races exactly as for Core statements.

Statements have constant text per shape, so psycopg prepares them on the
server after a few uses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from ledger.journal.storage import (
    ACCOUNT_COLUMNS,
    POSTING_COLUMNS,
    TRANSACTION_COLUMNS,
    AccountRow,
    CoreStore,
    KeyRow,
    PostingRow,
    TransactionRow,
    Writes,
)

_LOCK_ACCOUNTS = (
    f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM accounts "
    "WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE"
)
_LOCK_TRANSACTIONS = (
    f"SELECT {', '.join(TRANSACTION_COLUMNS)} FROM transactions "
    "WHERE id = ANY(%s::uuid[]) ORDER BY id FOR UPDATE"
)
_LOAD_POSTINGS = (
    f"SELECT {', '.join(POSTING_COLUMNS)} FROM postings "
    "WHERE transaction_id = ANY(%s::uuid[]) ORDER BY transaction_id, leg"
)
_REVERSALS = "SELECT reverses_id, id FROM transactions WHERE reverses_id = ANY(%s::uuid[])"
_KEYS = (
    "SELECT t.id, t.client_id, t.idempotency_key, t.request_hash FROM transactions t "
    "JOIN unnest(%s::text[], %s::text[]) AS k(client_id, idempotency_key) "
    "ON t.client_id = k.client_id AND t.idempotency_key = k.idempotency_key"
)

_INSERT_TRANSACTIONS = (
    f"INSERT INTO transactions ({', '.join(TRANSACTION_COLUMNS)}) SELECT * FROM unnest("
    "%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], "
    "%s::uuid[], %s::uuid[], %s::jsonb[], %s::smallint[])"
)
_INSERT_POSTINGS = (
    f"INSERT INTO postings ({', '.join(POSTING_COLUMNS)}) SELECT * FROM unnest("
    "%s::uuid[], %s::smallint[], %s::bigint[], %s::text[], %s::bigint[], %s::text[], "
    "%s::timestamptz[])"
)
_RESOLVE = (
    "UPDATE transactions AS t SET status = v.status, resolved_at = %s "
    "FROM unnest(%s::uuid[], %s::text[]) AS v(id, status) "
    "WHERE t.id = v.id AND t.status = 'pending'"
)
_TOTALS = (
    "UPDATE accounts AS a SET debits_posted_minor = v.dp, credits_posted_minor = v.cp, "
    "debits_pending_minor = v.dq, credits_pending_minor = v.cq "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
    "AS v(id, dp, cp, dq, cq) WHERE a.id = v.id"
)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_array(values: Iterable[str | None]) -> str:
    """A PostgreSQL array literal of text; every element quoted, NULL for None."""
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"


def plain_array(values: Iterable[object]) -> str:
    """An array literal of values whose text needs no quoting (ints, UUIDs)."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def time_array(values: Iterable[datetime | None]) -> str:
    return "{" + ",".join("NULL" if v is None else '"' + v.isoformat() + '"' for v in values) + "}"


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


class PostgresStore(CoreStore):
    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.driver: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]

    def _run(self, statement: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = self.driver.cursor()
        try:
            cursor.execute(statement, parameters)
            return cursor.fetchall() if cursor.description is not None else []
        except psycopg.Error as error:
            broken = self.driver.broken
            if broken:
                self.connection.invalidate(error)
            raise DBAPIError.instance(
                statement, parameters, error, psycopg.Error, connection_invalidated=broken
            ) from error
        finally:
            cursor.close()

    def lock_accounts(self, account_ids: Iterable[int]) -> list[AccountRow]:
        ordered = sorted(set(account_ids))
        if not ordered:
            return []
        return [AccountRow(*row) for row in self._run(_LOCK_ACCOUNTS, (plain_array(ordered),))]

    def lock_transactions(self, transaction_ids: Iterable[uuid.UUID]) -> list[TransactionRow]:
        ordered = sorted(set(transaction_ids))
        if not ordered:
            return []
        rows = self._run(_LOCK_TRANSACTIONS, (plain_array(ordered),))
        return [
            TransactionRow(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                _utc(row[6]),
                _utc(row[7]),
                _utc(row[8]),
                _utc(row[9]),
                row[10],
                row[11],
                row[12],
                row[13],
            )
            for row in rows
        ]

    def load_postings(self, transaction_ids: Iterable[uuid.UUID]) -> list[PostingRow]:
        ids = sorted(set(transaction_ids))
        if not ids:
            return []
        rows = self._run(_LOAD_POSTINGS, (plain_array(ids),))
        return [PostingRow(*row[:6], _utc(row[6])) for row in rows]

    def reversals_of(self, transaction_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        ids = sorted(set(transaction_ids))
        if not ids:
            return {}
        return {
            original: reversal for original, reversal in self._run(_REVERSALS, (plain_array(ids),))
        }

    def stored_keys(self, pairs: Iterable[tuple[str, str]]) -> list[KeyRow]:
        wanted = sorted(set(pairs))
        if not wanted:
            return []
        parameters = (text_array(p[0] for p in wanted), text_array(p[1] for p in wanted))
        return [KeyRow(*row) for row in self._run(_KEYS, parameters)]

    def write(self, writes: Writes) -> None:
        parts: list[str] = []
        parameters: list[Any] = []
        if writes.transactions:
            rows = writes.transactions
            parts.append(_INSERT_TRANSACTIONS)
            parameters += [
                plain_array(r.id for r in rows),
                text_array(r.client_id for r in rows),
                text_array(r.idempotency_key for r in rows),
                text_array(r.request_hash for r in rows),
                text_array(r.description for r in rows),
                text_array(r.status for r in rows),
                time_array(r.effective_at for r in rows),
                time_array(r.created_at for r in rows),
                time_array(r.expires_at for r in rows),
                time_array(r.resolved_at for r in rows),
                plain_array(r.reverses_id for r in rows),
                plain_array(r.pending_id for r in rows),
                text_array(json.dumps(r.metadata, separators=(",", ":")) for r in rows),
                plain_array(r.postings_count for r in rows),
            ]
        if writes.postings:
            rows_p = writes.postings
            parts.append(_INSERT_POSTINGS)
            parameters += [
                plain_array(p.transaction_id for p in rows_p),
                plain_array(p.leg for p in rows_p),
                plain_array(p.account_id for p in rows_p),
                text_array(p.direction for p in rows_p),
                plain_array(p.amount_minor for p in rows_p),
                text_array(p.currency for p in rows_p),
                time_array(p.effective_at for p in rows_p),
            ]
        if writes.resolutions:
            parts.append(_RESOLVE)
            parameters += [
                writes.resolved_at,
                plain_array(tid for tid, _ in writes.resolutions),
                text_array(status for _, status in writes.resolutions),
            ]
        if writes.totals:
            parts.append(_TOTALS)
            parameters += [plain_array(row[i] for row in writes.totals) for i in range(5)]
        if not parts:
            return
        # One statement: every part but the last becomes a writable CTE.
        *ctes, last = parts
        statement = last
        if ctes:
            statement = (
                "WITH " + ", ".join(f"w{i} AS ({part})" for i, part in enumerate(ctes)) + " " + last
            )
        self._run(statement, parameters)
