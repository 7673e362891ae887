"""The hash chain: sealing in batches, verification, and tampering caught."""

import sqlite3
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from ledger.journal import (
    create_pending,
    post_batch,
    post_pending,
    post_transaction,
    seal_all,
    verify_chain,
    void_pending,
)
from ledger.journal.models import Seal
from ledger.journal.sealing import queued_count, seal_batch
from tests.support import cash, open_accounts, transfer, wallet


@pytest.fixture
def journal(database, clock):
    """Forty posted transactions, a posted hold, a voided hold."""
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    records = database.run(
        lambda s: post_batch(s, [transfer(bank.id, alice.id, n) for n in range(1, 41)], clock=clock)
    )
    held = database.run(lambda s: create_pending(s, transfer(bank.id, alice.id, 7), clock=clock))
    database.run(lambda s: post_pending(s, held.id, clock=clock))
    dropped = database.run(lambda s: create_pending(s, transfer(bank.id, alice.id, 9), clock=clock))
    database.run(lambda s: void_pending(s, dropped.id, clock=clock))
    return bank, alice, records, held


def test_sealing_chains_every_posted_transaction_once(database, clock, journal):
    assert database.run(queued_count) == 41  # 40 posted + the hold once it was posted
    assert seal_all(database, now=clock.now(), limit=16) == 41
    assert database.run(queued_count) == 0
    assert seal_all(database, now=clock.now()) == 0
    result = database.run(verify_chain)
    assert result.ok and result.links_checked == 41


def test_sealing_continues_the_chain_across_runs(database, clock, journal):
    bank, alice, _, _ = journal
    seal_all(database, now=clock.now())
    database.run(lambda s: post_transaction(s, transfer(bank.id, alice.id, 1), clock=clock))
    assert seal_all(database, now=clock.now()) == 1
    assert database.run(verify_chain).links_checked == 42


def test_queued_but_unsealed_transactions_verify_fine(database, clock, journal):
    # Queued but unsealed is the normal state between sealing runs.
    assert database.run(verify_chain).ok


def _without_guards(database, statements):
    """Run SQL as an attacker with direct database access would: triggers and
    foreign keys off (replica mode on PostgreSQL; a raw connection on SQLite,
    where foreign keys are off unless asked for)."""
    if database.dialect == "postgresql":
        with database.engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for sql, params in statements:
                connection.execute(text(sql), params)
        return
    connection = sqlite3.connect(database.engine.url.database)
    try:
        for name in (
            "postings_no_update",
            "postings_no_delete",
            "transactions_no_delete",
            "transactions_guarded",
            "seals_no_update",
            "seals_no_delete",
        ):
            connection.execute(f"DROP TRIGGER IF EXISTS {name}")
        for sql, params in statements:
            connection.execute(sql, params)
        connection.commit()
    finally:
        connection.close()


def _stored_id(database, value):
    return value if database.dialect == "postgresql" else value.hex


def _sequence_of(database, transaction_id):
    return database.run(
        lambda s: s.execute(
            select(Seal.sequence).where(Seal.transaction_id == transaction_id)
        ).scalar_one()
    )


def test_the_chain_follows_the_order_transactions_were_written(database, clock, journal):
    _, _, records, held = journal
    seal_all(database, now=clock.now())
    sequences = [_sequence_of(database, record.id) for record in records]
    assert sequences == list(range(1, 41))
    assert _sequence_of(database, held.id) == 41


@pytest.mark.tampers
def test_a_changed_posting_is_named(database, clock, journal):
    _, _, records, _ = journal
    seal_all(database, now=clock.now())
    target = records[17]
    _without_guards(
        database,
        [
            (
                "UPDATE postings SET amount_minor = amount_minor + 100 WHERE transaction_id = :t",
                {"t": _stored_id(database, target.id)},
            )
        ],
    )
    result = database.run(verify_chain)
    assert not result.ok
    assert (result.problem, result.transaction_id) == ("changed", target.id)
    assert result.sequence == _sequence_of(database, target.id)


@pytest.mark.tampers
def test_a_changed_description_is_named(database, clock, journal):
    _, _, records, _ = journal
    seal_all(database, now=clock.now())
    _without_guards(
        database,
        [
            (
                "UPDATE transactions SET description = 'nothing to see' WHERE id = :t",
                {"t": _stored_id(database, records[3].id)},
            )
        ],
    )
    result = database.run(verify_chain)
    assert (result.problem, result.transaction_id) == ("changed", records[3].id)


@pytest.mark.tampers
def test_a_deleted_transaction_is_named(database, clock, journal):
    _, _, records, _ = journal
    seal_all(database, now=clock.now())
    sequence = _sequence_of(database, records[5].id)
    victim = _stored_id(database, records[5].id)
    _without_guards(
        database,
        [
            ("DELETE FROM postings WHERE transaction_id = :t", {"t": victim}),
            ("DELETE FROM journal_seals WHERE transaction_id = :t", {"t": victim}),
            ("DELETE FROM transactions WHERE id = :t", {"t": victim}),
        ],
    )
    result = database.run(verify_chain)
    # Deleting its seal as well breaks the chain right after the gap.
    assert (result.problem, result.sequence) == ("chain_broken", sequence + 1)


@pytest.mark.tampers
def test_a_deleted_transaction_with_its_seal_left_is_missing(database, clock, journal):
    _, _, records, _ = journal
    seal_all(database, now=clock.now())
    victim = _stored_id(database, records[5].id)
    _without_guards(
        database,
        [
            ("DELETE FROM postings WHERE transaction_id = :t", {"t": victim}),
            ("DELETE FROM transactions WHERE id = :t", {"t": victim}),
        ],
    )
    result = database.run(verify_chain)
    assert (result.problem, result.transaction_id) == ("missing", records[5].id)


@pytest.mark.tampers
def test_a_transaction_inserted_behind_the_chain_is_named(database, clock, journal):
    bank, alice, _, _ = journal
    seal_all(database, now=clock.now())
    sneaky = database.run(
        lambda s: post_transaction(s, transfer(bank.id, alice.id, 1), clock=clock)
    )
    _without_guards(
        database,
        [
            (
                "DELETE FROM journal_seal_queue WHERE transaction_id = :t",
                {"t": _stored_id(database, sneaky.id)},
            )
        ],
    )
    result = database.run(verify_chain)
    assert (result.problem, result.transaction_id) == ("unsealed", sneaky.id)


@pytest.mark.tampers
def test_a_rewritten_seal_breaks_the_chain(database, clock, journal):
    seal_all(database, now=clock.now())
    _without_guards(
        database,
        [
            ("UPDATE journal_seals SET hash = :h WHERE sequence = 10", {"h": "f" * 64}),
        ],
    )
    result = database.run(verify_chain)
    assert (result.problem, result.sequence) == ("chain_broken", 10)


def test_concurrent_sealers_take_turns(database, clock, journal):
    errors = []

    def sealer():
        try:
            seal_all(database, now=clock.now() + timedelta(seconds=1), limit=5)
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=sealer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = database.run(verify_chain)
    assert result.ok and result.links_checked == 41


@pytest.mark.postgresql
def test_sealing_does_not_block_posting(postgres_database, clock):
    """A sealer holding the head lock leaves posting free to proceed.

    (On SQLite every writer waits for every other: it has one writer.)
    """
    database = postgres_database
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    database.run(lambda s: post_transaction(s, transfer(bank.id, alice.id, 5), clock=clock))
    with database.engine.begin() as sealer:
        assert seal_batch(sealer, now=clock.now()) == 1  # head row locked, uncommitted
        posted = database.run(
            lambda s: post_transaction(s, transfer(bank.id, alice.id, 3), clock=clock)
        )
        assert posted.status == "posted"
    assert seal_all(database, now=clock.now()) == 1
    assert database.run(verify_chain).links_checked == 2
