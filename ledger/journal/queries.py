"""Reads of the journal: transactions, balances now and as of a time, statements,
trial balance. Nothing here writes.

Statements and as-of balances count *posted* transactions by business time
(``effective_at``), as they stand now: a backdated posting changes yesterday's
as-of balance from the moment it is recorded (and its ``created_at`` says when).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, case, func, select, tuple_

from ledger.errors import AccountNotFound, TransactionNotFound, ValidationFailed
from ledger.journal import balance
from ledger.journal.balance import Totals
from ledger.journal.models import Account, Posting, Transaction
from ledger.journal.types import (
    AccountRecord,
    PostingRecord,
    Statement,
    StatementLine,
    TransactionRecord,
    TrialBalanceLine,
    normal_side,
)
from ledger.journal.validation import require_aware
from ledger.limits import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, POSTINGS_PER_TRANSACTION_MAX

accounts = Account.__table__
transactions = Transaction.__table__
postings = Posting.__table__


def account_record(row: Row[Any]) -> AccountRecord:
    totals = Totals.of(row)
    return AccountRecord(
        id=row.id,
        code=row.code,
        name=row.name,
        type=row.type,
        currency=row.currency,
        owner_reference=row.owner_reference,
        allow_overdraft=row.allow_overdraft,
        overdraft_limit_minor=row.overdraft_limit_minor,
        metadata=row.metadata,
        created_at=row.created_at,
        closed_at=row.closed_at,
        balances=balance.balances(totals, normal_side(row.type), row.currency),
    )


def get_account(connection: Connection, account_id: int) -> AccountRecord:
    row = connection.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        raise AccountNotFound(f"account {account_id} does not exist", account_id=account_id)
    return account_record(row)


def get_account_by_code(connection: Connection, code: str) -> AccountRecord:
    row = connection.execute(select(accounts).where(accounts.c.code == code)).first()
    if row is None:
        raise AccountNotFound(f"account {code!r} does not exist", code=code)
    return account_record(row)


_reversal = transactions.alias("reversal")
_capture = transactions.alias("capture")

#: A transaction row with the ids of the transactions that point back at it (its
#: reversal, its partial capture: each unique, by partial unique indexes), read in
#: the same statement as the row.
_WITH_LINKS = select(
    transactions,
    select(_reversal.c.id)
    .where(_reversal.c.reverses_id == transactions.c.id)
    .scalar_subquery()
    .label("reversed_by_id"),
    select(_capture.c.id)
    .where(_capture.c.pending_id == transactions.c.id)
    .scalar_subquery()
    .label("captured_by_id"),
)


def load_transactions(
    connection: Connection, transaction_ids: Iterable[uuid.UUID]
) -> list[TransactionRecord]:
    """Records for the given ids (missing ids are skipped), with both-way links."""
    ids = sorted(set(transaction_ids))
    if not ids:
        return []
    rows = connection.execute(_WITH_LINKS.where(transactions.c.id.in_(ids))).all()
    legs: dict[uuid.UUID, list[PostingRecord]] = defaultdict(list)
    for posting in connection.execute(
        select(postings)
        .where(postings.c.transaction_id.in_(ids))
        .order_by(postings.c.transaction_id, postings.c.leg)
    ):
        legs[posting.transaction_id].append(
            PostingRecord(
                posting.transaction_id,
                posting.leg,
                posting.account_id,
                posting.direction,
                posting.amount_minor,
                posting.currency,
                posting.effective_at,
            )
        )
    return [
        transaction_record(
            row,
            legs[row.id],
            reversed_by_id=row.reversed_by_id,
            captured_by_id=row.captured_by_id,
        )
        for row in rows
    ]


def transaction_record(
    row: Any,
    postings: Iterable[PostingRecord],
    *,
    reversed_by_id: uuid.UUID | None = None,
    captured_by_id: uuid.UUID | None = None,
) -> TransactionRecord:
    """The record of a stored transaction row (any object with its columns)."""
    return TransactionRecord(
        id=row.id,
        status=row.status,
        description=row.description,
        effective_at=row.effective_at,
        created_at=row.created_at,
        expires_at=row.expires_at,
        resolved_at=row.resolved_at,
        reverses_id=row.reverses_id,
        reversed_by_id=reversed_by_id,
        pending_id=row.pending_id,
        captured_by_id=captured_by_id,
        client_id=row.client_id,
        idempotency_key=row.idempotency_key,
        metadata=row.metadata,
        postings=tuple(postings),
    )


def get_transaction(connection: Connection, transaction_id: uuid.UUID) -> TransactionRecord:
    found = load_transactions(connection, [transaction_id])
    if not found:
        raise TransactionNotFound(
            f"transaction {transaction_id} does not exist", transaction_id=str(transaction_id)
        )
    return found[0]


def _signed(account_type: str) -> Any:
    """SQL expression: a posting's amount signed in the account's normal direction."""
    positive = "debit" if normal_side(account_type) == "debit" else "credit"
    return case(
        (postings.c.direction == positive, postings.c.amount_minor),
        else_=-postings.c.amount_minor,
    )


def _posted_total(connection: Connection, account_id: int, effective: Any) -> int:
    """Sum of the account's posted postings (normal direction) whose business time
    satisfies ``effective`` (a condition on ``postings.c.effective_at``)."""
    account = get_account(connection, account_id)
    total = connection.execute(
        select(func.coalesce(func.sum(_signed(account.type)), 0))
        .select_from(postings.join(transactions, transactions.c.id == postings.c.transaction_id))
        .where(postings.c.account_id == account_id, effective, transactions.c.status == "posted")
    ).scalar_one()
    return int(total)


def posted_balance_as_of(connection: Connection, account_id: int, as_of: datetime) -> int:
    """Posted balance (normal direction) counting postings effective at or before ``as_of``."""
    require_aware(as_of, "as_of")
    return _posted_total(connection, account_id, postings.c.effective_at <= as_of)


def posted_balance_before(connection: Connection, account_id: int, before: datetime) -> int:
    """Posted balance (normal direction) of postings effective strictly before ``before``:
    the opening balance of a period that starts at ``before``."""
    require_aware(before, "before")
    return _posted_total(connection, account_id, postings.c.effective_at < before)


def posted_postings_between(
    connection: Connection, account_id: int, start: datetime, end: datetime
) -> list[PostingRecord]:
    """The account's posted postings effective in ``[start, end)``, oldest first."""
    require_aware(start, "start")
    require_aware(end, "end")
    rows = connection.execute(
        select(
            postings.c.transaction_id,
            postings.c.leg,
            postings.c.account_id,
            postings.c.direction,
            postings.c.amount_minor,
            postings.c.currency,
            postings.c.effective_at,
        )
        .select_from(postings.join(transactions, transactions.c.id == postings.c.transaction_id))
        .where(
            postings.c.account_id == account_id,
            postings.c.effective_at >= start,
            postings.c.effective_at < end,
            transactions.c.status == "posted",
        )
        .order_by(postings.c.effective_at, postings.c.transaction_id, postings.c.leg)
    )
    return [PostingRecord(*row) for row in rows]


def _encode_cursor(effective_at: datetime, transaction_id: uuid.UUID, leg: int) -> str:
    raw = f"{effective_at.isoformat()}|{transaction_id}|{leg}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, transaction_id, leg = base64.urlsafe_b64decode(padded).decode().split("|")
        decoded = (datetime.fromisoformat(moment), uuid.UUID(transaction_id), int(leg))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValidationFailed("cursor is not valid", field="cursor") from None
    require_aware(decoded[0], "cursor")
    if not 0 <= decoded[2] < POSTINGS_PER_TRANSACTION_MAX:  # else a 64-bit overflow in SQL
        raise ValidationFailed("cursor is not valid", field="cursor")
    return decoded


def statement(
    connection: Connection,
    account_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> Statement:
    """Posted postings of an account with ``start <= effective_at < end``, oldest
    first, each with the running balance after it; ``limit`` lines per page.

    The opening balance is everything posted before the page's first line, so
    every page's running balances are absolute, not relative to the page.
    """
    if not isinstance(limit, int) or not 1 <= limit <= PAGE_SIZE_MAX:
        raise ValidationFailed(f"limit must be between 1 and {PAGE_SIZE_MAX}", field="limit")
    for moment, name in ((start, "start"), (end, "end")):
        if moment is not None:
            require_aware(moment, name)
    if start is not None and end is not None and end < start:
        raise ValidationFailed("end is before start", field="end")
    account = get_account(connection, account_id)
    signed = _signed(account.type)
    order_key = tuple_(postings.c.effective_at, postings.c.transaction_id, postings.c.leg)
    joined = postings.join(transactions, transactions.c.id == postings.c.transaction_id)
    base = [postings.c.account_id == account_id, transactions.c.status == "posted"]

    if cursor is not None:
        position = _decode_cursor(cursor)
        before_page = order_key <= tuple_(*position)
        page_filter = order_key > tuple_(*position)
    else:
        before_page = postings.c.effective_at < start if start is not None else None
        page_filter = None

    opening = 0
    if before_page is not None:
        opening = int(
            connection.execute(
                select(func.coalesce(func.sum(signed), 0))
                .select_from(joined)
                .where(*base, before_page)
            ).scalar_one()
        )

    conditions = list(base)
    if start is not None:
        conditions.append(postings.c.effective_at >= start)
    if end is not None:
        conditions.append(postings.c.effective_at < end)
    if page_filter is not None:
        conditions.append(page_filter)
    rows = connection.execute(
        select(
            postings.c.transaction_id,
            postings.c.leg,
            postings.c.effective_at,
            postings.c.direction,
            postings.c.amount_minor,
            transactions.c.description,
            signed.label("signed_minor"),
        )
        .select_from(joined)
        .where(and_(*conditions))
        .order_by(postings.c.effective_at, postings.c.transaction_id, postings.c.leg)
        .limit(limit + 1)
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    running = opening
    lines = []
    for row in rows:
        running += row.signed_minor
        lines.append(
            StatementLine(
                transaction_id=row.transaction_id,
                leg=row.leg,
                effective_at=row.effective_at,
                description=row.description,
                direction=row.direction,
                amount_minor=row.amount_minor,
                running_balance_minor=running,
            )
        )
    next_cursor = None
    if has_more:
        last = rows[-1]
        next_cursor = _encode_cursor(last.effective_at, last.transaction_id, last.leg)
    return Statement(
        account_id=account_id,
        currency=account.currency,
        start=start,
        end=end,
        opening_balance_minor=opening,
        lines=tuple(lines),
        has_more=has_more,
        next_cursor=next_cursor,
    )


def trial_balance(connection: Connection) -> list[TrialBalanceLine]:
    """Posted debits and credits per currency, from the accounts' stored totals.

    Every line must balance; :func:`ledger.journal.audit.check_invariants` also
    recomputes it from the postings themselves.
    """
    rows = connection.execute(
        select(
            accounts.c.currency,
            func.coalesce(func.sum(accounts.c.debits_posted_minor), 0),
            func.coalesce(func.sum(accounts.c.credits_posted_minor), 0),
        )
        .group_by(accounts.c.currency)
        .order_by(accounts.c.currency)
    ).all()
    return [
        TrialBalanceLine(currency, int(debits), int(credits)) for currency, debits, credits in rows
    ]


def pending_expired_ids(connection: Connection, now: datetime, limit: int) -> list[uuid.UUID]:
    """Pending transactions whose ``expires_at`` has passed, oldest first."""
    return list(
        connection.execute(
            select(transactions.c.id)
            .where(
                transactions.c.status == "pending",
                transactions.c.expires_at.is_not(None),
                transactions.c.expires_at <= now,
            )
            .order_by(transactions.c.expires_at, transactions.c.id)
            .limit(limit)
        ).scalars()
    )


def list_transactions(
    connection: Connection,
    *,
    client_id: str | None,
    account_id: int | None = None,
    account_ids: Iterable[int] | None = None,
    status: str | None = None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    limit: int = PAGE_SIZE_DEFAULT,
    starting_after: uuid.UUID | None = None,
) -> tuple[list[TransactionRecord], bool]:
    """Transactions newest first (ids are time-ordered UUIDv7), ``limit`` of them
    after the id ``starting_after``, and whether there are more.

    ``client_id`` scopes to one client's transactions (None: all of them);
    ``account_id`` to those with a posting on that account, ``account_ids`` on
    any of those accounts (an empty collection matches nothing); the effective range
    is ``effective_from <= effective_at < effective_to``.
    """
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise ValidationFailed(f"limit must be 1 to {PAGE_SIZE_MAX}", field="limit")
    query = select(transactions.c.id).order_by(transactions.c.id.desc()).limit(limit + 1)
    if client_id is not None:
        query = query.where(transactions.c.client_id == client_id)
    if account_id is not None:
        query = query.where(
            transactions.c.id.in_(
                select(postings.c.transaction_id).where(postings.c.account_id == account_id)
            )
        )
    if account_ids is not None:
        query = query.where(
            transactions.c.id.in_(
                select(postings.c.transaction_id).where(
                    postings.c.account_id.in_(sorted(set(account_ids)))
                )
            )
        )
    if status is not None:
        query = query.where(transactions.c.status == status)
    if effective_from is not None:
        require_aware(effective_from, "effective_from")
        query = query.where(transactions.c.effective_at >= effective_from)
    if effective_to is not None:
        require_aware(effective_to, "effective_to")
        query = query.where(transactions.c.effective_at < effective_to)
    if starting_after is not None:
        query = query.where(transactions.c.id < starting_after)
    ids = list(connection.execute(query).scalars())
    page = ids[:limit]
    records = sorted(load_transactions(connection, page), key=lambda r: r.id, reverse=True)
    return records, len(ids) > limit
