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
    TransactionRow,
    Writes,
)
from ledger.journal.types import PostingRecord

_READ_ACCOUNTS = (
    f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM accounts WHERE id = ANY(%s::bigint[]) ORDER BY id"
)
_LOCK_ACCOUNTS = _READ_ACCOUNTS + " FOR NO KEY UPDATE"
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
# Adds the deltas and locks the accounts in ascending id order (see the migration).
_ADD_TOTALS = (
    "SELECT journal_add_totals(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], "
    "%s::bigint[])"
)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_array(values: Iterable[str | None]) -> str:
    """A PostgreSQL array literal of text; every element quoted, NULL for None.

    Repeated values (the same description, the same empty metadata) are quoted once.
    """
    quoted: dict[str | None, str] = {None: "NULL"}
    parts = []
    for value in values:
        text = quoted.get(value)
        if text is None:
            text = quoted[value] = _quoted(value)  # type: ignore[arg-type]
        parts.append(text)
    return "{" + ",".join(parts) + "}"


def token_array(values: Iterable[str]) -> str:
    """An array literal of validated tokens that never need quoting.

    Only for values the journal has validated to letters and digits: directions,
    statuses, ISO currency codes.
    """
    return "{" + ",".join(values) + "}"


def plain_array(values: Iterable[object]) -> str:
    """An array literal of values whose text needs no quoting (ints, UUIDs)."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def time_array(values: Iterable[datetime | None]) -> str:
    """An array literal of timestamps; each distinct instant is formatted once."""
    formatted: dict[datetime | None, str] = {None: "NULL"}
    parts = []
    for value in values:
        text = formatted.get(value)
        if text is None:
            text = formatted[value] = '"' + value.isoformat() + '"'  # type: ignore[union-attr]
        parts.append(text)
    return "{" + ",".join(parts) + "}"


def _json(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, separators=(",", ":")) if metadata else "{}"


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


class PostgresStore(CoreStore):
    rechecks_everything = True  # see alembic/versions/0001_journal.py

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.driver: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
        self.cursor = self.driver.cursor()

    def _run(
        self, statement: str, parameters: Sequence[Any], *, rows: bool = True
    ) -> list[tuple[Any, ...]]:
        try:
            self.cursor.execute(statement, parameters)
            return self.cursor.fetchall() if rows else []
        except psycopg.Error as error:
            broken = self.driver.broken
            if broken:
                self.connection.invalidate(error)
            raise DBAPIError.instance(
                statement, parameters, error, psycopg.Error, connection_invalidated=broken
            ) from error

    def read_accounts(self, account_ids: Iterable[int], *, lock: bool) -> list[AccountRow]:
        ordered = sorted(set(account_ids))
        if not ordered:
            return []
        statement = _LOCK_ACCOUNTS if lock else _READ_ACCOUNTS
        return [AccountRow(*row) for row in self._run(statement, (plain_array(ordered),))]

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

    def load_postings(self, transaction_ids: Iterable[uuid.UUID]) -> list[PostingRecord]:
        ids = sorted(set(transaction_ids))
        if not ids:
            return []
        rows = self._run(_LOAD_POSTINGS, (plain_array(ids),))
        return [PostingRecord(*row[:6], _utc(row[6])) for row in rows]

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
                token_array(r.status for r in rows),
                time_array(r.effective_at for r in rows),
                time_array(r.created_at for r in rows),
                time_array(r.expires_at for r in rows),
                time_array(r.resolved_at for r in rows),
                plain_array(r.reverses_id for r in rows),
                plain_array(r.pending_id for r in rows),
                text_array(_json(r.metadata) for r in rows),
                plain_array(r.postings_count for r in rows),
            ]
        if writes.postings:
            rows_p = writes.postings
            parts.append(_INSERT_POSTINGS)
            parameters += [
                plain_array(p.transaction_id for p in rows_p),
                plain_array(p.leg for p in rows_p),
                plain_array(p.account_id for p in rows_p),
                token_array(p.direction for p in rows_p),
                plain_array(p.amount_minor for p in rows_p),
                token_array(p.currency for p in rows_p),
                time_array(p.effective_at for p in rows_p),
            ]
        if writes.resolutions:
            parts.append(_RESOLVE)
            parameters += [
                writes.resolved_at,
                plain_array(tid for tid, _ in writes.resolutions),
                token_array(status for _, status in writes.resolutions),
            ]
        if writes.deltas:
            parts.append(_ADD_TOTALS)
            parameters += [plain_array(row[i] for row in writes.deltas) for i in range(5)]
        if not parts:
            return
        # One statement: every part but the last becomes a writable CTE. The
        # last (adding to balances) waits for the others: PostgreSQL runs the
        # primary query first unless it reads the CTEs, and the accounts it
        # locks should stay locked only from the end of the write to the commit.
        *ctes, last = parts
        statement = last
        if ctes:
            assert last is _ADD_TOTALS, "every write changes balances"
            names = [f"w{i}" for i in range(len(ctes))]
            written = " + ".join(f"(SELECT count(*) FROM {name})" for name in names)
            statement = (
                "WITH "
                + ", ".join(
                    f"{name} AS ({part} RETURNING 1)"
                    for name, part in zip(names, ctes, strict=True)
                )
                + f" {last} WHERE {written} >= 0"
            )
        self._run(statement, parameters, rows=False)
