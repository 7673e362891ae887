"""Batches: up to 1,000 transactions, all or nothing, errors by index."""

import pytest

from ledger.errors import BatchRejected, LimitExceeded, ValidationFailed
from ledger.journal import TransactionSpec, credit, debit, post_batch
from ledger.limits import BATCH_TRANSACTIONS_MAX
from tests.support import balances_of, cash, open_accounts, row_counts, transfer, wallet


def test_a_full_batch_posts_every_transaction(database, clock):
    bank, *wallets = open_accounts(
        database, clock, cash("bank"), *(wallet(f"w{i}") for i in range(10))
    )
    specs = [transfer(bank.id, wallets[i % 10].id, i + 1) for i in range(BATCH_TRANSACTIONS_MAX)]
    records = database.run(lambda s: post_batch(s, specs, clock=clock))
    assert len(records) == BATCH_TRANSACTIONS_MAX
    assert len({record.id for record in records}) == BATCH_TRANSACTIONS_MAX
    expected = [sum(i + 1 for i in range(BATCH_TRANSACTIONS_MAX) if i % 10 == w) for w in range(10)]
    assert [b[0] for b in balances_of(database, *(w.id for w in wallets))] == expected
    assert balances_of(database, bank.id)[0][0] == sum(range(1, BATCH_TRANSACTIONS_MAX + 1))


def test_items_apply_in_order_so_later_items_see_earlier_ones(database, clock):
    bank, alice, bob = open_accounts(database, clock, cash("bank"), wallet("alice"), wallet("bob"))
    specs = [transfer(bank.id, alice.id, 500), transfer(alice.id, bob.id, 500)]
    database.run(lambda s: post_batch(s, specs, clock=clock))
    assert balances_of(database, alice.id, bob.id) == [(0, 0, 0), (500, 0, 500)]


def test_a_batch_with_bad_items_writes_nothing_and_names_every_bad_index(database, clock):
    bank, alice, bob = open_accounts(database, clock, cash("bank"), wallet("alice"), wallet("bob"))
    specs = [
        transfer(bank.id, alice.id, 500),  # 0 fine
        TransactionSpec((debit(bank.id, 5, "USD"), credit(bob.id, 4, "USD"))),  # 1 unbalanced
        transfer(alice.id, bob.id, 400),  # 2 fine
        transfer(alice.id, bob.id, 200),  # 3 only 100 left
        transfer(bank.id, 424_242, 1),  # 4 no such account
        transfer(bank.id, alice.id, 1, currency="EUR"),  # 5 wrong currency
        transfer(alice.id, bob.id, 100),  # 6 fine: 3 was skipped
    ]
    counts = row_counts(database)
    with pytest.raises(BatchRejected) as caught:
        database.run(lambda s: post_batch(s, specs, clock=clock))
    codes = {index: error.code for index, error in caught.value.errors.items()}
    assert codes == {
        1: "unbalanced_transaction",
        3: "insufficient_funds",
        4: "account_not_found",
        5: "currency_mismatch",
    }
    assert [item["index"] for item in caught.value.details["errors"]] == [1, 3, 4, 5]
    assert row_counts(database) == counts
    assert balances_of(database, alice.id, bob.id) == [(0, 0, 0), (0, 0, 0)]


def test_batch_size_is_bounded(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    too_many = [transfer(bank.id, alice.id, 1)] * (BATCH_TRANSACTIONS_MAX + 1)
    with pytest.raises(LimitExceeded):
        database.run(lambda s: post_batch(s, too_many, clock=clock))
    with pytest.raises(ValidationFailed):
        database.run(lambda s: post_batch(s, [], clock=clock))


def test_keys_inside_a_batch_replay_or_conflict(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    first = database.run(
        lambda s: post_batch(s, [transfer(bank.id, alice.id, 10, idempotency_key="a")], clock=clock)
    )
    specs = [
        transfer(bank.id, alice.id, 10, idempotency_key="a"),  # replay of a stored one
        transfer(bank.id, alice.id, 20, idempotency_key="b"),
        transfer(bank.id, alice.id, 20, idempotency_key="b"),  # repeat within the batch
    ]
    records = database.run(lambda s: post_batch(s, specs, clock=clock))
    assert records[0].id == first[0].id and records[0].replayed
    assert records[2].id == records[1].id and records[2].replayed and not records[1].replayed
    assert balances_of(database, alice.id)[0][0] == 30
    conflicting = [
        transfer(bank.id, alice.id, 1, idempotency_key="c"),
        transfer(bank.id, alice.id, 2, idempotency_key="c"),
    ]
    with pytest.raises(BatchRejected) as caught:
        database.run(lambda s: post_batch(s, conflicting, clock=clock))
    assert {i: e.code for i, e in caught.value.errors.items()} == {1: "idempotency_conflict"}
