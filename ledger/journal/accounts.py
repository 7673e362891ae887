"""Opening and closing accounts.

Accounts never get deleted: they close, once their balances are zero and
nothing is pending, and a closed account refuses new postings.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from ledger.clock import ensure_utc
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import (
    AccountClosed,
    AccountCodeTaken,
    AccountNotEmpty,
    AccountNotFound,
    LimitBelowUsage,
    ValidationFailed,
)
from ledger.journal import balance, queries, storage
from ledger.journal.balance import Totals
from ledger.journal.models import ACCOUNT_TYPES, Account
from ledger.journal.types import AccountRecord, AccountSpec, normal_side
from ledger.journal.validation import refuse_nul, validate_metadata
from ledger.limits import (
    ACCOUNT_CODE_LENGTH_MAX,
    ACCOUNT_NAME_LENGTH_MAX,
    AMOUNT_MINOR_MAX,
    OWNER_REFERENCE_LENGTH_MAX,
)
from ledger.money import validate_currency

accounts = Account.__table__

#: Codes are readable paths such as ``partner:kazpost:settlement:RUB``.
ACCOUNT_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._\-]*$")

register_race_constraint(RaceConstraint("uq_accounts_code", "accounts", ("code",)))


def validate_account_spec(spec: AccountSpec) -> None:
    if not isinstance(spec.code, str) or not ACCOUNT_CODE_PATTERN.match(spec.code):
        raise ValidationFailed(
            "account code must start with a letter or digit and use only letters, digits "
            "and : . _ -",
            field="code",
        )
    if len(spec.code) > ACCOUNT_CODE_LENGTH_MAX:
        raise ValidationFailed(
            f"account code is longer than {ACCOUNT_CODE_LENGTH_MAX}", field="code"
        )
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise ValidationFailed("account name must not be empty", field="name")
    refuse_nul(spec.name, "name")
    if len(spec.name) > ACCOUNT_NAME_LENGTH_MAX:
        raise ValidationFailed(
            f"account name is longer than {ACCOUNT_NAME_LENGTH_MAX}", field="name"
        )
    if spec.type not in ACCOUNT_TYPES:
        raise ValidationFailed(
            f"account type must be one of {', '.join(ACCOUNT_TYPES)}", field="type"
        )
    validate_currency(spec.currency)
    if spec.owner_reference is not None and (
        not isinstance(spec.owner_reference, str)
        or not spec.owner_reference
        or len(spec.owner_reference) > OWNER_REFERENCE_LENGTH_MAX
    ):
        raise ValidationFailed(
            f"owner reference must be 1 to {OWNER_REFERENCE_LENGTH_MAX} characters",
            field="owner_reference",
        )
    if not isinstance(spec.allow_overdraft, bool):
        raise ValidationFailed("allow_overdraft must be true or false", field="allow_overdraft")
    if spec.owner_reference is not None:
        refuse_nul(spec.owner_reference, "owner_reference")
    limit = spec.overdraft_limit_minor
    if limit is not None:
        if not spec.allow_overdraft:
            raise ValidationFailed(
                "an overdraft limit needs allow_overdraft", field="overdraft_limit_minor"
            )
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not 0 <= limit <= AMOUNT_MINOR_MAX
        ):
            raise ValidationFailed(
                "overdraft limit must be a non-negative 64-bit integer of minor units",
                field="overdraft_limit_minor",
            )
    validate_metadata(spec.metadata)


def open_account(connection: Connection, spec: AccountSpec, *, now: datetime) -> AccountRecord:
    """Create an account; its code must be new."""
    validate_account_spec(spec)
    taken = connection.execute(select(accounts.c.id).where(accounts.c.code == spec.code)).first()
    if taken is not None:
        raise AccountCodeTaken(f"account code {spec.code!r} is taken", code=spec.code)
    account_id = connection.execute(
        insert(accounts)
        .values(
            code=spec.code,
            name=spec.name,
            type=spec.type,
            currency=spec.currency,
            owner_reference=spec.owner_reference,
            allow_overdraft=spec.allow_overdraft,
            overdraft_limit_minor=spec.overdraft_limit_minor,
            metadata=spec.metadata,
            created_at=ensure_utc(now),
            debits_posted_minor=0,
            credits_posted_minor=0,
            debits_pending_minor=0,
            credits_pending_minor=0,
        )
        .returning(accounts.c.id)
    ).scalar_one()
    return queries.get_account(connection, account_id)


def ensure_account(connection: Connection, spec: AccountSpec, *, now: datetime) -> int:
    """The id of the account with ``spec.code``, opened from ``spec`` on first use (the
    platform's own accounts: clearing, positions, banks, fee income)."""
    try:
        return queries.get_account_by_code(connection, spec.code).id
    except AccountNotFound:
        return open_account(connection, spec, now=now).id


def close_account(connection: Connection, account_id: int, *, now: datetime) -> AccountRecord:
    """Close an account whose posted balance is zero and that holds nothing pending.

    The account is locked like a posting locks it, so no transaction can slip in
    between the check and the close.
    """
    rows = storage.store_for(connection).read_accounts([account_id], lock=True)
    if not rows:
        raise AccountNotFound(f"account {account_id} does not exist", account_id=account_id)
    row = rows[0]
    if row.closed_at is not None:
        raise AccountClosed(f"account {account_id} is already closed", account_id=account_id)
    totals = Totals.of(row)
    posted = balance.posted(totals, normal_side(row.type))
    if posted != 0 or row.debits_pending_minor or row.credits_pending_minor:
        raise AccountNotEmpty(
            f"account {account_id} still has a balance or pending transactions",
            account_id=account_id,
            posted_minor=posted,
            pending_minor=balance.pending(totals, normal_side(row.type)),
        )
    connection.execute(
        update(accounts).where(accounts.c.id == account_id).values(closed_at=ensure_utc(now))
    )
    return queries.get_account(connection, account_id)


def set_overdraft_limit(
    connection: Connection, account_id: int, overdraft_limit_minor: int
) -> AccountRecord:
    """Change the limit of an account that allows a limited overdraft (a partner's
    net debit cap). A limit below what is already drawn is refused
    (LimitBelowUsage), so no balance is ever below its floor.

    The row is locked like a posting locks it: no hold can slip in between the
    check and the change (and the balance floor CHECK re-checks it anyway).
    """
    if (
        not isinstance(overdraft_limit_minor, int)
        or isinstance(overdraft_limit_minor, bool)
        or not 0 <= overdraft_limit_minor <= AMOUNT_MINOR_MAX
    ):
        raise ValidationFailed(
            "overdraft limit must be a non-negative 64-bit integer of minor units",
            field="overdraft_limit_minor",
        )
    rows = storage.store_for(connection).read_accounts([account_id], lock=True)
    if not rows:
        raise AccountNotFound(f"account {account_id} does not exist", account_id=account_id)
    row = rows[0]
    if not row.allow_overdraft or row.overdraft_limit_minor is None:
        raise ValidationFailed(
            f"account {account_id} does not have a limited overdraft to change",
            field="overdraft_limit_minor",
        )
    available = balance.available(Totals.of(row), normal_side(row.type))
    if available < -overdraft_limit_minor:
        raise LimitBelowUsage(
            f"account {account_id} already draws {-available} below zero; the limit cannot "
            f"be {overdraft_limit_minor}",
            account_id=account_id,
            available_minor=available,
            overdraft_limit_minor=overdraft_limit_minor,
        )
    connection.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(overdraft_limit_minor=overdraft_limit_minor)
    )
    return queries.get_account(connection, account_id)
