from ledger.journal import balance
from ledger.journal.balance import Totals


def test_debit_normal_account_balances():
    totals = Totals(
        debits_posted_minor=1000,
        credits_posted_minor=300,
        debits_pending_minor=50,
        credits_pending_minor=200,
    )
    assert balance.posted(totals, "debit") == 700
    assert balance.pending(totals, "debit") == -150
    # Pending outflows (credits on an asset) reserve funds; pending inflows do not count.
    assert balance.available(totals, "debit") == 500


def test_credit_normal_account_balances():
    totals = Totals(
        debits_posted_minor=300,
        credits_posted_minor=1000,
        debits_pending_minor=200,
        credits_pending_minor=50,
    )
    assert balance.posted(totals, "credit") == 700
    assert balance.pending(totals, "credit") == -150
    assert balance.available(totals, "credit") == 500


def test_floor_follows_the_overdraft_rule():
    assert balance.floor(False, None) == 0
    assert balance.floor(True, 5000) == -5000
    assert balance.floor(True, None) is None
