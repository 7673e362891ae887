"""Explicit invariant checks over the whole journal, recomputed from postings.

:func:`check_invariants` returns a list of human-readable problems (empty when
the journal is sound). Tests call it after every integration test; operators
run it with ``ledger check``. It reads everything, so it is an audit, not a
hot-path check.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, case, func, select

from ledger.journal import balance
from ledger.journal.balance import Totals
from ledger.journal.models import Account, Posting, Transaction
from ledger.journal.types import normal_side

accounts = Account.__table__
postings = Posting.__table__
transactions = Transaction.__table__


def _sum_where(condition: object) -> object:
    return func.coalesce(func.sum(case((condition, postings.c.amount_minor), else_=0)), 0)


def check_invariants(connection: Connection) -> list[str]:
    problems: list[str] = []
    debit = postings.c.direction == "debit"
    credit = postings.c.direction == "credit"
    is_posted = transactions.c.status == "posted"
    is_pending = transactions.c.status == "pending"
    joined = postings.join(transactions, transactions.c.id == postings.c.transaction_id)

    # 1. Stored totals equal the sums of postings, per account and status.
    sums = {
        row.account_id: Totals(int(row.dp), int(row.cp), int(row.dq), int(row.cq))
        for row in connection.execute(
            select(
                postings.c.account_id,
                _sum_where(debit & is_posted).label("dp"),
                _sum_where(credit & is_posted).label("cp"),
                _sum_where(debit & is_pending).label("dq"),
                _sum_where(credit & is_pending).label("cq"),
            )
            .select_from(joined)
            .group_by(postings.c.account_id)
        )
    }
    for row in connection.execute(select(accounts)):
        stored = Totals.of(row)
        computed = sums.get(row.id, Totals())
        if stored != computed:
            problems.append(
                f"account {row.id} ({row.code}) stores {stored} but its postings sum to {computed}"
            )
        # 2. The balance rule holds.
        floor = balance.floor(row.allow_overdraft, row.overdraft_limit_minor)
        available = balance.available(stored, normal_side(row.type))
        if floor is not None and available < floor:
            problems.append(f"account {row.id} ({row.code}) is below its floor: {available}")

    # 3. Trial balance from postings: posted debits equal credits per currency.
    for currency, debits, credits in connection.execute(
        select(postings.c.currency, _sum_where(debit), _sum_where(credit))
        .select_from(joined)
        .where(is_posted)
        .group_by(postings.c.currency)
    ):
        if int(debits) != int(credits):
            problems.append(f"{currency} posted debits {debits} != credits {credits}")

    # 4. Every transaction: two or more postings, each currency balanced.
    per_transaction: dict[object, int] = defaultdict(int)
    for transaction_id, currency, legs, net in connection.execute(
        select(
            postings.c.transaction_id,
            postings.c.currency,
            func.count(),
            func.sum(case((debit, postings.c.amount_minor), else_=-postings.c.amount_minor)),
        ).group_by(postings.c.transaction_id, postings.c.currency)
    ):
        per_transaction[transaction_id] += legs
        if int(net) != 0:
            problems.append(f"transaction {transaction_id} does not balance in {currency}")
    for transaction_id, legs in per_transaction.items():
        if legs < 2:
            problems.append(f"transaction {transaction_id} has {legs} posting(s)")
    orphans = connection.execute(
        select(func.count())
        .select_from(transactions)
        .where(
            ~select(postings.c.leg).where(postings.c.transaction_id == transactions.c.id).exists()
        )
    ).scalar_one()
    if orphans:
        problems.append(f"{orphans} transaction(s) have no postings")

    # 5. Posting currency equals account currency.
    mismatched = connection.execute(
        select(func.count())
        .select_from(postings.join(accounts, accounts.c.id == postings.c.account_id))
        .where(postings.c.currency != accounts.c.currency)
    ).scalar_one()
    if mismatched:
        problems.append(f"{mismatched} posting(s) differ from their account's currency")

    # 6. Business time on postings equals their transaction's.
    drifted = connection.execute(
        select(func.count())
        .select_from(joined)
        .where(postings.c.effective_at != transactions.c.effective_at)
    ).scalar_one()
    if drifted:
        problems.append(f"{drifted} posting(s) disagree with their transaction's effective_at")
    return problems
