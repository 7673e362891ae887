"""The journal: accounts, transactions, postings, balances, seals.

The functions re-exported here are the only way to write postings. Each takes
a SQLAlchemy Core ``Connection`` inside the caller's unit of work and never commits::

    database = create_database()
    record = database.run(lambda connection: post_transaction(connection, spec))
"""

from ledger.journal.accounts import close_account, open_account, set_overdraft_limit
from ledger.journal.audit import check_invariants
from ledger.journal.fx import Rate, conversion_spec, ensure_position_account
from ledger.journal.queries import (
    get_account,
    get_account_by_code,
    get_transaction,
    posted_balance_as_of,
    statement,
    trial_balance,
)
from ledger.journal.sealing import seal_all, seal_batch, verify_chain
from ledger.journal.transactions import (
    create_pending,
    expire_holds,
    post_batch,
    post_pending,
    post_transaction,
    reverse_transaction,
    void_pending,
)
from ledger.journal.types import (
    AccountRecord,
    AccountSpec,
    Balances,
    PostingRecord,
    PostingSpec,
    Statement,
    StatementLine,
    TransactionRecord,
    TransactionSpec,
    TrialBalanceLine,
    credit,
    debit,
)

__all__ = [
    "AccountRecord",
    "AccountSpec",
    "Balances",
    "PostingRecord",
    "PostingSpec",
    "Rate",
    "Statement",
    "StatementLine",
    "TransactionRecord",
    "TransactionSpec",
    "TrialBalanceLine",
    "check_invariants",
    "close_account",
    "conversion_spec",
    "create_pending",
    "credit",
    "debit",
    "ensure_position_account",
    "expire_holds",
    "get_account",
    "get_account_by_code",
    "get_transaction",
    "open_account",
    "post_batch",
    "post_pending",
    "post_transaction",
    "posted_balance_as_of",
    "reverse_transaction",
    "seal_all",
    "seal_batch",
    "set_overdraft_limit",
    "statement",
    "trial_balance",
    "verify_chain",
    "void_pending",
]
