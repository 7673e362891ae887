"""Two-phase transactions (holds) and reversals."""

from datetime import timedelta

import pytest

from ledger.errors import (
    AlreadyReversed,
    AmountExceedsPending,
    IdempotencyConflict,
    InsufficientFunds,
    PendingExpired,
    TransactionNotFound,
    TransactionNotPending,
    TransactionNotPosted,
    ValidationFailed,
)
from ledger.ids import uuid7
from ledger.journal import (
    TransactionSpec,
    create_pending,
    credit,
    debit,
    expire_holds,
    get_transaction,
    post_pending,
    post_transaction,
    reverse_transaction,
    void_pending,
)
from tests.support import balances_of, cash, open_accounts, row_counts, transfer, wallet


@pytest.fixture
def funded(database, clock):
    """A bank, Alice with 100.00, Bob empty."""
    bank, alice, bob = open_accounts(database, clock, cash("bank"), wallet("alice"), wallet("bob"))
    database.run(lambda s: post_transaction(s, transfer(bank.id, alice.id, 10_000), clock=clock))
    return bank, alice, bob


def hold(database, clock, spec):
    return database.run(lambda s: create_pending(s, spec, clock=clock))


def test_a_hold_reserves_available_funds_without_posting(database, clock, funded):
    _, alice, bob = funded
    record = hold(database, clock, transfer(alice.id, bob.id, 3_000))
    assert record.status == "pending"
    # Alice: posted 100, pending outflow 30, available 70. Bob's pending inflow is not available.
    assert balances_of(database, alice.id, bob.id) == [(10_000, -3_000, 7_000), (0, 3_000, 0)]


def test_holds_together_cannot_exceed_the_available_balance(database, clock, funded):
    _, alice, bob = funded
    hold(database, clock, transfer(alice.id, bob.id, 6_000))
    counts = row_counts(database)
    with pytest.raises(InsufficientFunds):
        hold(database, clock, transfer(alice.id, bob.id, 5_000))
    assert row_counts(database) == counts
    with pytest.raises(InsufficientFunds):  # a plain post is blocked by the hold as well
        database.run(lambda s: post_transaction(s, transfer(alice.id, bob.id, 4_001), clock=clock))
    hold(database, clock, transfer(alice.id, bob.id, 4_000))


def test_posting_a_hold_in_full_books_it_in_place(database, clock, funded):
    _, alice, bob = funded
    record = hold(database, clock, transfer(alice.id, bob.id, 3_000))
    clock.advance(timedelta(minutes=1))
    posted = database.run(lambda s: post_pending(s, record.id, clock=clock))
    assert posted.id == record.id
    assert posted.status == "posted"
    assert posted.resolved_at == clock.now()
    assert posted.effective_at == record.effective_at
    assert balances_of(database, alice.id, bob.id) == [(7_000, 0, 7_000), (3_000, 0, 3_000)]


def test_posting_a_hold_in_part_releases_the_rest(database, clock, funded):
    _, alice, bob = funded
    record = hold(database, clock, transfer(alice.id, bob.id, 3_000))
    capture = database.run(lambda s: post_pending(s, record.id, amount_minor=1_200, clock=clock))
    assert capture.id != record.id
    assert capture.pending_id == record.id
    assert [p.amount_minor for p in capture.postings] == [1_200, 1_200]
    original = database.run(lambda s: get_transaction(s, record.id))
    assert (original.status, original.captured_by_id) == ("voided", capture.id)
    assert balances_of(database, alice.id, bob.id) == [(8_800, 0, 8_800), (1_200, 0, 1_200)]


def test_partial_capture_legs_are_checked_against_the_hold(database, clock, funded):
    _, alice, bob = funded
    record = hold(database, clock, transfer(alice.id, bob.id, 3_000))
    with pytest.raises(AmountExceedsPending):
        database.run(lambda s: post_pending(s, record.id, amount_minor=3_001, clock=clock))
    swapped = (debit(bob.id, 10, "USD"), credit(alice.id, 10, "USD"))
    with pytest.raises(ValidationFailed):
        database.run(lambda s: post_pending(s, record.id, postings=swapped, clock=clock))
    unbalanced = (debit(alice.id, 10, "USD"), credit(bob.id, 9, "USD"))
    with pytest.raises(ValidationFailed):
        database.run(lambda s: post_pending(s, record.id, postings=unbalanced, clock=clock))
    same = database.run(lambda s: post_pending(s, record.id, amount_minor=3_000, clock=clock))
    assert same.id == record.id  # the full amount is a full capture


def test_voiding_releases_and_resolved_holds_stay_resolved(database, clock, funded):
    _, alice, bob = funded
    record = hold(database, clock, transfer(alice.id, bob.id, 3_000))
    voided = database.run(lambda s: void_pending(s, record.id, clock=clock))
    assert voided.status == "voided"
    assert balances_of(database, alice.id, bob.id) == [(10_000, 0, 10_000), (0, 0, 0)]
    for action in (
        lambda s: void_pending(s, record.id, clock=clock),
        lambda s: post_pending(s, record.id, clock=clock),
    ):
        with pytest.raises(TransactionNotPending):
            database.run(action)
    with pytest.raises(TransactionNotFound):
        database.run(lambda s: void_pending(s, uuid7(), clock=clock))


def test_expired_holds_are_voided_and_can_no_longer_be_posted(database, clock, funded):
    _, alice, bob = funded
    soon = hold(
        database,
        clock,
        transfer(alice.id, bob.id, 1_000, expires_at=clock.now() + timedelta(minutes=10)),
    )
    later = hold(
        database,
        clock,
        transfer(alice.id, bob.id, 2_000, expires_at=clock.now() + timedelta(hours=2)),
    )
    forever = hold(database, clock, transfer(alice.id, bob.id, 500))
    clock.advance(timedelta(minutes=30))
    with pytest.raises(PendingExpired):
        database.run(lambda s: post_pending(s, soon.id, clock=clock))
    expired = database.run(lambda s: expire_holds(s, clock.now()))
    assert expired == [soon.id]
    assert database.run(lambda s: expire_holds(s, clock.now())) == []
    assert balances_of(database, alice.id)[0] == (10_000, -2_500, 7_500)
    clock.advance(timedelta(hours=2))
    assert database.run(lambda s: expire_holds(s, clock.now())) == [later.id]
    assert database.run(lambda s: get_transaction(s, forever.id)).status == "pending"


def test_a_reversal_mirrors_and_links_both_ways(database, clock, funded):
    _, alice, bob = funded
    payment = database.run(
        lambda s: post_transaction(s, transfer(alice.id, bob.id, 2_500), clock=clock)
    )
    reversal = database.run(lambda s: reverse_transaction(s, payment.id, clock=clock))
    assert reversal.reverses_id == payment.id
    assert [(p.account_id, p.direction, p.amount_minor) for p in reversal.postings] == [
        (alice.id, "credit", 2_500),
        (bob.id, "debit", 2_500),
    ]
    assert database.run(lambda s: get_transaction(s, payment.id)).reversed_by_id == reversal.id
    assert balances_of(database, alice.id, bob.id) == [(10_000, 0, 10_000), (0, 0, 0)]
    counts = row_counts(database)
    with pytest.raises(AlreadyReversed):
        database.run(lambda s: reverse_transaction(s, payment.id, clock=clock))
    assert row_counts(database) == counts


def test_only_posted_transactions_are_reversed(database, clock, funded):
    _, alice, bob = funded
    pending = hold(database, clock, transfer(alice.id, bob.id, 100))
    with pytest.raises(TransactionNotPosted):
        database.run(lambda s: reverse_transaction(s, pending.id, clock=clock))
    database.run(lambda s: void_pending(s, pending.id, clock=clock))
    with pytest.raises(TransactionNotPosted):
        database.run(lambda s: reverse_transaction(s, pending.id, clock=clock))


def test_a_reversal_respects_balance_rules(database, clock, funded):
    _, alice, bob = funded
    payment = database.run(
        lambda s: post_transaction(s, transfer(alice.id, bob.id, 2_500), clock=clock)
    )
    database.run(lambda s: post_transaction(s, transfer(bob.id, alice.id, 2_000), clock=clock))
    with pytest.raises(InsufficientFunds):  # Bob spent what the reversal would take back
        database.run(lambda s: reverse_transaction(s, payment.id, clock=clock))


def test_reversal_with_a_key_replays_and_conflicts_like_any_post(database, clock, funded):
    _, alice, bob = funded
    payment = database.run(
        lambda s: post_transaction(s, transfer(alice.id, bob.id, 100), clock=clock)
    )
    first = database.run(
        lambda s: reverse_transaction(s, payment.id, idempotency_key="rev-1", clock=clock)
    )
    again = database.run(
        lambda s: reverse_transaction(s, payment.id, idempotency_key="rev-1", clock=clock)
    )
    assert again.id == first.id and again.replayed
    with pytest.raises(AlreadyReversed):
        database.run(
            lambda s: reverse_transaction(s, payment.id, idempotency_key="rev-2", clock=clock)
        )
    other = database.run(
        lambda s: post_transaction(s, transfer(alice.id, bob.id, 100), clock=clock)
    )
    with pytest.raises(IdempotencyConflict):  # same key, another transaction
        database.run(
            lambda s: reverse_transaction(s, other.id, idempotency_key="rev-1", clock=clock)
        )


def test_a_multi_leg_hold_captures_leg_by_leg(database, clock, funded):
    _, alice, bob = funded
    fee = open_accounts(database, clock, wallet("fees"))[0]
    spec = TransactionSpec(
        (debit(alice.id, 1_050, "USD"), credit(bob.id, 1_000, "USD"), credit(fee.id, 50, "USD"))
    )
    record = hold(database, clock, spec)
    legs = (debit(alice.id, 530, "USD"), credit(bob.id, 500, "USD"), credit(fee.id, 30, "USD"))
    capture = database.run(lambda s: post_pending(s, record.id, postings=legs, clock=clock))
    assert [p.amount_minor for p in capture.postings] == [530, 500, 30]
    second = hold(database, clock, spec)
    with pytest.raises(ValidationFailed):  # amount_minor is for two-legged holds only
        database.run(lambda s: post_pending(s, second.id, amount_minor=5, clock=clock))
