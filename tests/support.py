"""Helpers shared by tests: accounts, transfers, row counts."""

from __future__ import annotations

from sqlalchemy import func, select

from ledger.clock import FixedClock
from ledger.db import Base, Database
from ledger.journal import AccountRecord, AccountSpec, TransactionSpec, credit, debit, open_account


def open_accounts(
    database: Database, clock: FixedClock, *specs: AccountSpec
) -> list[AccountRecord]:
    return [
        database.run(lambda session, spec=spec: open_account(session, spec, now=clock.now()))
        for spec in specs
    ]


def wallet(code: str, currency: str = "USD", **options: object) -> AccountSpec:
    """A customer wallet: a liability that may not go negative unless told."""
    return AccountSpec(code=code, name=code, type="liability", currency=currency, **options)


def cash(code: str, currency: str = "USD") -> AccountSpec:
    """A bank account of ours: an asset, allowed to run negative for test funding."""
    return AccountSpec(code=code, name=code, type="asset", currency=currency, allow_overdraft=True)


def transfer(
    source: int, target: int, amount_minor: int, currency: str = "USD", **options: object
) -> TransactionSpec:
    """Move value from ``source`` to ``target``: debit the source, credit the target."""
    return TransactionSpec(
        postings=(debit(source, amount_minor, currency), credit(target, amount_minor, currency)),
        **options,
    )


def row_counts(database: Database) -> dict[str, int]:
    def count(session):
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }

    return database.run(count)


def balances_of(database: Database, *account_ids: int) -> list[tuple[int, int, int]]:
    """(posted, pending, available) minor units per account."""
    from ledger.journal import get_account

    def read(session):
        result = []
        for account_id in account_ids:
            b = get_account(session, account_id).balances
            result.append((b.posted_minor, b.pending_minor, b.available_minor))
        return result

    return database.run(read)
