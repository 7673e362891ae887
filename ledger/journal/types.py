"""Value types that cross the journal's boundary: what callers ask for, what they get.

All amounts are ``int`` minor units with their ISO currency; all times are
timezone-aware UTC. Records are immutable snapshots, never live database rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from moneyed import Money

from ledger.money import to_money

Direction = Literal["debit", "credit"]
AccountType = Literal["asset", "liability", "equity", "income", "expense"]
TransactionStatus = Literal["pending", "posted", "voided"]
DIRECTIONS_SET = frozenset({"debit", "credit"})


@dataclass(frozen=True)
class PostingSpec:
    """One leg: move ``amount_minor`` on ``account_id`` in ``direction``."""

    account_id: int
    direction: Direction
    amount_minor: int
    currency: str


def debit(account_id: int, amount_minor: int, currency: str) -> PostingSpec:
    return PostingSpec(account_id, "debit", amount_minor, currency)


def credit(account_id: int, amount_minor: int, currency: str) -> PostingSpec:
    return PostingSpec(account_id, "credit", amount_minor, currency)


@dataclass(frozen=True)
class TransactionSpec:
    """A transaction to record.

    ``effective_at`` defaults to the clock's now. ``idempotency_key`` is unique
    per ``client_id``: the same key with the same content returns the original
    transaction; with different content it is an IdempotencyConflict.
    """

    postings: tuple[PostingSpec, ...]
    description: str = ""
    effective_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    client_id: str = ""
    expires_at: datetime | None = None  # pending transactions only

    def __post_init__(self) -> None:
        # Accept any sequence from callers, store a tuple so the spec is hashable
        # in spirit and cannot change after validation.
        object.__setattr__(self, "postings", tuple(self.postings))


@dataclass(frozen=True)
class AccountSpec:
    code: str
    name: str
    type: AccountType
    currency: str
    owner_reference: str | None = None
    allow_overdraft: bool = False
    overdraft_limit_minor: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Balances:
    """An account's balances in its normal direction (positive = normal side).

    * ``posted``: sum of posted postings.
    * ``pending``: net of pending postings (holds in both directions).
    * ``available``: posted less pending outflows; what a new outflow may use.
    """

    currency: str
    posted_minor: int
    pending_minor: int
    available_minor: int

    @property
    def posted(self) -> Money:
        return to_money(self.posted_minor, self.currency)

    @property
    def pending(self) -> Money:
        return to_money(self.pending_minor, self.currency)

    @property
    def available(self) -> Money:
        return to_money(self.available_minor, self.currency)


@dataclass(frozen=True)
class AccountRecord:
    id: int
    code: str
    name: str
    type: AccountType
    currency: str
    owner_reference: str | None
    allow_overdraft: bool
    overdraft_limit_minor: int | None
    metadata: dict[str, Any]
    created_at: datetime
    closed_at: datetime | None
    balances: Balances

    @property
    def normal_side(self) -> Direction:
        return normal_side(self.type)

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class PostingRecord(NamedTuple):
    """A recorded posting (also the storage row: same fields, same order)."""

    transaction_id: uuid.UUID
    leg: int
    account_id: int
    direction: Direction
    amount_minor: int
    currency: str
    effective_at: datetime  # the transaction's business time

    @property
    def amount(self) -> Money:
        return to_money(self.amount_minor, self.currency)


class TransactionRecord(NamedTuple):
    """A recorded transaction. (NamedTuples, like PostingRecord: immutable and
    cheap to build, which matters at thousands per batch.)"""

    id: uuid.UUID
    status: TransactionStatus
    description: str
    effective_at: datetime
    created_at: datetime
    expires_at: datetime | None
    resolved_at: datetime | None
    reverses_id: uuid.UUID | None
    reversed_by_id: uuid.UUID | None
    pending_id: uuid.UUID | None
    captured_by_id: uuid.UUID | None
    client_id: str
    idempotency_key: str | None
    metadata: dict[str, Any]
    postings: tuple[PostingRecord, ...]
    replayed: bool = False  # True when an idempotent retry returned this original


@dataclass(frozen=True)
class StatementLine:
    transaction_id: uuid.UUID
    leg: int
    effective_at: datetime
    description: str
    direction: Direction
    amount_minor: int
    running_balance_minor: int  # in the account's normal direction


@dataclass(frozen=True)
class Statement:
    account_id: int
    currency: str
    start: datetime | None
    end: datetime | None
    opening_balance_minor: int  # before ``start`` (or before this page's cursor)
    lines: tuple[StatementLine, ...]
    has_more: bool
    next_cursor: str | None


@dataclass(frozen=True)
class TrialBalanceLine:
    currency: str
    debits_minor: int
    credits_minor: int

    @property
    def balanced(self) -> bool:
        return self.debits_minor == self.credits_minor


def normal_side(account_type: str) -> Direction:
    """Assets and expenses grow with debits; liabilities, equity and income with credits."""
    return "debit" if account_type in ("asset", "expense") else "credit"
