"""Accounts owned by a partner, opened through the journal and recorded as theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ledger.access.principals import PrincipalRecord
from ledger.errors import AccountNotFound
from ledger.ids import uuid7
from ledger.journal import AccountRecord, AccountSpec, open_account
from ledger.journal.models import Account
from ledger.journal.queries import account_record
from ledger.journal.types import AccountType
from ledger.limits import PAGE_SIZE_MAX
from ledger.parties.customers import get_customer
from ledger.parties.models import PartnerAccount

partner_accounts = PartnerAccount.__table__
accounts = Account.__table__


@dataclass(frozen=True)
class PartnerAccountSpec:
    name: str
    type: AccountType
    currency: str
    code: str | None = None  # namespaced as partner:<slug>:<code>; generated if absent
    customer_id: uuid.UUID | None = None
    allow_overdraft: bool = False
    overdraft_limit_minor: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OwnedAccount:
    account: AccountRecord
    customer_id: uuid.UUID | None


def open_partner_account(
    connection: Connection, partner: PrincipalRecord, spec: PartnerAccountSpec, *, now: datetime
) -> OwnedAccount:
    if spec.customer_id is not None:
        get_customer(connection, partner.id, spec.customer_id)  # theirs, or not found
    suffix = spec.code if spec.code is not None else uuid7().hex
    account = open_account(
        connection,
        AccountSpec(
            code=f"partner:{partner.slug}:{suffix}",
            name=spec.name,
            type=spec.type,
            currency=spec.currency,
            owner_reference=f"customer:{spec.customer_id}" if spec.customer_id else None,
            allow_overdraft=spec.allow_overdraft,
            overdraft_limit_minor=spec.overdraft_limit_minor,
            metadata=spec.metadata,
        ),
        now=now,
    )
    connection.execute(
        insert(partner_accounts).values(
            account_id=account.id, partner_id=partner.id, customer_id=spec.customer_id
        )
    )
    return OwnedAccount(account, spec.customer_id)


def _owned() -> Any:
    return select(accounts, partner_accounts.c.customer_id).join(
        partner_accounts, partner_accounts.c.account_id == accounts.c.id
    )


def get_owned_account(
    connection: Connection, partner_id: uuid.UUID, account_id: int
) -> OwnedAccount:
    row = connection.execute(
        _owned().where(accounts.c.id == account_id, partner_accounts.c.partner_id == partner_id)
    ).first()
    if row is None:
        raise AccountNotFound(f"account {account_id} does not exist", account_id=account_id)
    return OwnedAccount(account_record(row), row.customer_id)


def require_owned_accounts(
    connection: Connection, partner_id: uuid.UUID, account_ids: Iterable[int]
) -> None:
    """Raise AccountNotFound for the first of ``account_ids`` the partner does not own."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return
    owned = set(
        connection.execute(
            select(partner_accounts.c.account_id).where(
                partner_accounts.c.partner_id == partner_id,
                partner_accounts.c.account_id.in_(wanted),
            )
        ).scalars()
    )
    for account_id in wanted:
        if account_id not in owned:
            raise AccountNotFound(f"account {account_id} does not exist", account_id=account_id)


def customer_account_ids(
    connection: Connection, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> list[int]:
    """Ids of the partner's accounts held for ``customer_id``."""
    return list(
        connection.execute(
            select(partner_accounts.c.account_id).where(
                partner_accounts.c.partner_id == partner_id,
                partner_accounts.c.customer_id == customer_id,
            )
        ).scalars()
    )


def list_owned_accounts(
    connection: Connection,
    partner_id: uuid.UUID,
    *,
    customer_id: uuid.UUID | None = None,
    currency: str | None = None,
    status: str | None = None,
    limit: int,
    starting_after: int | None = None,
) -> tuple[list[OwnedAccount], bool]:
    """Newest first; ``limit`` rows and whether there are more."""
    assert 1 <= limit <= PAGE_SIZE_MAX
    query = (
        _owned()
        .where(partner_accounts.c.partner_id == partner_id)
        .order_by(accounts.c.id.desc())
        .limit(limit + 1)
    )
    if customer_id is not None:
        query = query.where(partner_accounts.c.customer_id == customer_id)
    if currency is not None:
        query = query.where(accounts.c.currency == currency)
    if status == "open":
        query = query.where(accounts.c.closed_at.is_(None))
    elif status == "closed":
        query = query.where(accounts.c.closed_at.is_not(None))
    if starting_after is not None:
        query = query.where(accounts.c.id < starting_after)
    rows = connection.execute(query).all()
    return [OwnedAccount(account_record(row), row.customer_id) for row in rows[:limit]], (
        len(rows) > limit
    )
