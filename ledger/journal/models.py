"""Tables of the journal. Alembic migrations create them; these models describe them.

Invariants (checked in code by ``ledger.journal.engine`` and, on PostgreSQL, again
by constraints and triggers created in ``alembic/versions``):

* A transaction has at least two postings; for each currency its debits equal its
  credits; every posting's currency is its account's currency; amounts are
  positive 64-bit integers of minor units.
* Postings are never updated or deleted. A transaction row changes only while it
  is ``pending`` (to ``posted`` or ``voided``); posted and voided rows are final.
  A posted transaction is corrected by a new transaction that ``reverses`` it
  (at most one reversal each: ``reverses_id`` is unique).
* An account's stored balance columns equal the sums of its postings:
  ``*_posted_minor`` over posted transactions, ``*_pending_minor`` over pending
  ones. Its available balance (posted less pending outflows) never falls below
  its floor: 0 unless overdraft is allowed; ``-overdraft_limit_minor`` if a limit
  is set; unbounded if overdraft is allowed without a limit.
* Posted transactions enter ``journal_seal_queue`` (by trigger, in the same
  database transaction) and are later hash-chained into ``journal_seals``.

Postings carry no foreign keys. On PostgreSQL a transaction's row, its postings
and the balance updates are written by one statement, after which statement-
level triggers check, set-based, that every posting's account exists and holds
its currency and that every posting belongs to a transaction written by the
same statement (accounts and transactions are never deleted). Per-row foreign
key checks cost as much as everything else in a batch together (measured:
about 22 ms of 75 ms per 1,000 transactions). SQLite relies on the code and
``ledger check``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base, BigIntegerKey, JSONObject, UTCDateTime
from ledger.limits import (
    ACCOUNT_CODE_LENGTH_MAX,
    ACCOUNT_NAME_LENGTH_MAX,
    CLIENT_ID_LENGTH_MAX,
    DESCRIPTION_LENGTH_MAX,
    IDEMPOTENCY_KEY_LENGTH_MAX,
    OWNER_REFERENCE_LENGTH_MAX,
    POSTINGS_PER_TRANSACTION_MAX,
)

ACCOUNT_TYPES = ("asset", "liability", "equity", "income", "expense")
DEBIT_NORMAL_TYPES = ("asset", "expense")
DIRECTIONS = ("debit", "credit")
TRANSACTION_STATUSES = ("pending", "posted", "voided")

#: The seal before the first one.
GENESIS_HASH = "0" * 64


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


# Available balance in the account's normal direction: posted less pending outflows.
# CAST to NUMERIC so the arithmetic cannot overflow 64 bits inside the check.
_AVAILABLE = (
    "CASE WHEN type IN ('asset', 'expense') "
    "THEN CAST(debits_posted_minor AS NUMERIC) - credits_posted_minor - credits_pending_minor "
    "ELSE CAST(credits_posted_minor AS NUMERIC) - debits_posted_minor - debits_pending_minor END"
)
# NULL when overdraft is unbounded, which makes the CHECK pass.
_FLOOR = "CASE WHEN allow_overdraft THEN -overdraft_limit_minor ELSE 0 END"


def _unique_when_present(name: str, *columns: str, present: str | None = None) -> Index:
    condition = text(f"{present or columns[0]} IS NOT NULL")
    return Index(name, *columns, unique=True, postgresql_where=condition, sqlite_where=condition)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(ACCOUNT_CODE_LENGTH_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(ACCOUNT_NAME_LENGTH_MAX))
    type: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    owner_reference: Mapped[str | None] = mapped_column(
        String(OWNER_REFERENCE_LENGTH_MAX), index=True
    )
    allow_overdraft: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    overdraft_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONObject)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    debits_posted_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    credits_posted_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    debits_pending_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    credits_pending_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))

    __table_args__ = (
        CheckConstraint(_in("type", ACCOUNT_TYPES), name="type"),
        CheckConstraint("length(currency) = 3", name="currency"),
        CheckConstraint(
            "overdraft_limit_minor IS NULL OR (allow_overdraft AND overdraft_limit_minor >= 0)",
            name="overdraft_limit",
        ),
        CheckConstraint(
            "debits_posted_minor >= 0 AND credits_posted_minor >= 0 "
            "AND debits_pending_minor >= 0 AND credits_pending_minor >= 0",
            name="totals_non_negative",
        ),
        CheckConstraint(f"{_AVAILABLE} >= {_FLOOR}", name="balance_floor"),
    )


class Transaction(Base):
    __tablename__ = "transactions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_LENGTH_MAX), server_default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH_MAX))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_LENGTH_MAX), server_default="")
    status: Mapped[str] = mapped_column(String(8))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("transactions.id"))
    pending_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("transactions.id"))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONObject)
    # Legs are numbered 0..postings_count-1 and (transaction_id, leg) is unique,
    # so once a transaction is written no posting can ever be added to it.
    postings_count: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = (
        # Partial unique indexes: most rows have none of these, and a NULL
        # should cost no index entry on the hot path.
        _unique_when_present(
            "uq_transactions_client_id_idempotency_key",
            "client_id",
            "idempotency_key",
            present="idempotency_key",
        ),
        _unique_when_present("uq_transactions_reverses_id", "reverses_id"),
        _unique_when_present("uq_transactions_pending_id", "pending_id"),
        CheckConstraint(_in("status", TRANSACTION_STATUSES), name="status"),
        CheckConstraint(
            f"postings_count >= 2 AND postings_count <= {POSTINGS_PER_TRANSACTION_MAX}",
            name="postings_count",
        ),
        CheckConstraint(
            "(idempotency_key IS NULL) = (request_hash IS NULL)", name="idempotency_hash"
        ),
        CheckConstraint("reverses_id IS NULL OR status = 'posted'", name="reversal_posted"),
        CheckConstraint("pending_id IS NULL OR status = 'posted'", name="capture_posted"),
        # Listing one client's transactions newest first (migration 0002).
        Index("ix_transactions_client_id_id", "client_id", "id"),
        Index(
            "ix_transactions_pending_expires_at",
            "expires_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )


class Posting(Base):
    __tablename__ = "postings"

    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # Position of the posting in its transaction, from 0. With the transaction's
    # id it names the posting; both are known before the insert, so posting
    # needs no RETURNING round trip.
    leg: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(6))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Copy of the transaction's business time, so an account's statement and
    # as-of balance are one index range scan.
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(f"leg >= 0 AND leg < {POSTINGS_PER_TRANSACTION_MAX}", name="leg"),
        Index(
            "ix_postings_account_id_effective_at",
            "account_id",
            "effective_at",
            "transaction_id",
            "leg",
        ),
    )


class SealQueueEntry(Base):
    """Posted transactions waiting to be sealed; filled by database triggers.

    Sealed in id order (UUIDv7: creation order), one batch at a time; an entry
    that commits after a batch was sealed simply joins the next batch.
    """

    __tablename__ = "journal_seal_queue"

    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)


class Seal(Base):
    """One link of the hash chain: ``hash = sha256(previous_hash + canonical(tx))``."""

    __tablename__ = "journal_seals"

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("transactions.id"), unique=True
    )
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SealHead(Base):
    """The chain's last link; its row lock makes sealers take turns."""

    __tablename__ = "journal_seal_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
