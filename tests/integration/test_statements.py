"""Statements with running balances, pagination, trial balance."""

from datetime import timedelta

import pytest

from ledger.errors import AccountNotFound, ValidationFailed
from ledger.journal import (
    create_pending,
    post_batch,
    post_transaction,
    reverse_transaction,
    statement,
    trial_balance,
)
from tests.support import cash, open_accounts, transfer, wallet


def test_statement_has_running_balances_and_an_opening_balance(database, clock):
    bank, alice, bob = open_accounts(database, clock, cash("bank"), wallet("alice"), wallet("bob"))
    start = clock.now()
    days = [start + timedelta(days=d) for d in range(5)]
    database.run(
        lambda s: post_batch(
            s,
            [
                transfer(bank.id, alice.id, 1_000, effective_at=days[0], description="salary"),
                transfer(alice.id, bob.id, 300, effective_at=days[1], description="rent"),
                transfer(bank.id, alice.id, 50, effective_at=days[2], description="refund"),
                transfer(alice.id, bob.id, 100, effective_at=days[3], description="food"),
            ],
            clock=clock,
        )
    )
    # A hold is not on the statement until it is posted.
    database.run(
        lambda s: create_pending(
            s, transfer(alice.id, bob.id, 1, effective_at=days[2]), clock=clock
        )
    )

    whole = database.run(lambda s: statement(s, alice.id))
    assert [
        (line.description, line.direction, line.amount_minor, line.running_balance_minor)
        for line in whole.lines
    ] == [
        ("salary", "credit", 1_000, 1_000),
        ("rent", "debit", 300, 700),
        ("refund", "credit", 50, 750),
        ("food", "debit", 100, 650),
    ]
    window = database.run(lambda s: statement(s, alice.id, start=days[1], end=days[3]))
    assert window.opening_balance_minor == 1_000
    assert [line.description for line in window.lines] == ["rent", "refund"]
    assert window.lines[-1].running_balance_minor == 750


def test_statement_pages_keep_absolute_running_balances(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    specs = [
        transfer(bank.id, alice.id, amount, effective_at=clock.now() + timedelta(minutes=amount))
        for amount in range(1, 26)
    ]
    database.run(lambda s: post_batch(s, specs, clock=clock))
    lines, cursor, pages = [], None, 0
    while True:
        page = database.run(lambda s, c=cursor: statement(s, alice.id, limit=10, cursor=c))
        pages += 1
        if lines:
            assert page.opening_balance_minor == lines[-1].running_balance_minor
        lines.extend(page.lines)
        if not page.has_more:
            assert page.next_cursor is None
            break
        cursor = page.next_cursor
    assert pages == 3
    assert [line.amount_minor for line in lines] == list(range(1, 26))
    assert [line.running_balance_minor for line in lines] == [
        n * (n + 1) // 2 for n in range(1, 26)
    ]


def test_reversed_transactions_stay_on_the_statement_with_their_reversal(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    payment = database.run(
        lambda s: post_transaction(s, transfer(bank.id, alice.id, 500), clock=clock)
    )
    clock.advance(timedelta(hours=1))
    database.run(lambda s: reverse_transaction(s, payment.id, clock=clock))
    lines = database.run(lambda s: statement(s, alice.id)).lines
    assert [(line.direction, line.running_balance_minor) for line in lines] == [
        ("credit", 500),
        ("debit", 0),
    ]


def test_statement_input_is_validated(database, clock):
    (alice,) = open_accounts(database, clock, wallet("alice"))
    for bad in (
        {"limit": 0},
        {"limit": 100_000},
        {"cursor": "not-a-cursor"},
        {"start": clock.now(), "end": clock.now() - timedelta(seconds=1)},
    ):
        with pytest.raises(ValidationFailed):
            database.run(lambda s, kw=bad: statement(s, alice.id, **kw))
    with pytest.raises(AccountNotFound):
        database.run(lambda s: statement(s, 987_654))


def test_trial_balance_is_per_currency_and_balances(database, clock):
    usd_bank, usd_wallet, tjs_bank, tjs_wallet = open_accounts(
        database,
        clock,
        cash("b:USD"),
        wallet("w:USD"),
        cash("b:TJS", "TJS"),
        wallet("w:TJS", "TJS"),
    )
    database.run(
        lambda s: post_batch(
            s,
            [
                transfer(usd_bank.id, usd_wallet.id, 1_000),
                transfer(tjs_bank.id, tjs_wallet.id, 5_000, currency="TJS"),
                transfer(usd_wallet.id, usd_bank.id, 250),
            ],
            clock=clock,
        )
    )
    lines = database.run(trial_balance)
    assert [
        (line.currency, line.debits_minor, line.credits_minor, line.balanced) for line in lines
    ] == [
        ("TJS", 5_000, 5_000, True),
        ("USD", 1_250, 1_250, True),
    ]
