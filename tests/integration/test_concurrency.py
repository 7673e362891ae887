"""Many concurrent writers on PostgreSQL: no lost update, no deadlock reaching a
caller, balance rules hold under races, one transaction per idempotency key.

SQLite runs the idempotency race too: its single writer must serialise, not fail.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from ledger.errors import InsufficientFunds, LedgerError
from ledger.journal import (
    create_pending,
    get_account,
    post_batch,
    post_transaction,
    reverse_transaction,
)
from ledger.journal.models import Transaction
from tests.support import cash, open_accounts, transfer, wallet

THREADS = 8
TRANSFERS_PER_THREAD = 200


@pytest.mark.postgresql
def test_random_transfers_from_eight_threads_keep_every_invariant(postgres_database, clock):
    database = postgres_database
    bank = open_accounts(database, clock, cash("bank"))[0]
    hot = open_accounts(database, clock, wallet("hot", allow_overdraft=True))[0]
    wallets = open_accounts(database, clock, *(wallet(f"w{i}") for i in range(6)))
    everyone = [hot, *wallets]
    database.run(
        lambda s: post_batch(s, [transfer(bank.id, w.id, 5_000) for w in everyone], clock=clock)
    )
    outcomes: Counter[str] = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(TRANSFERS_PER_THREAD):
            # Half the transfers touch the hot account; the rest pick any pair.
            if rng.random() < 0.5:
                pair = [hot, rng.choice(wallets)]
                rng.shuffle(pair)
            else:
                pair = rng.sample(everyone, 2)
            spec = transfer(pair[0].id, pair[1].id, rng.randint(1, 2_500))
            action = rng.random()
            try:
                if action < 0.8:
                    database.run(lambda s, spec=spec: post_transaction(s, spec, clock=clock))
                    result = "posted"
                elif action < 0.9:
                    database.run(lambda s, spec=spec: create_pending(s, spec, clock=clock))
                    result = "held"
                else:
                    record = database.run(
                        lambda s, spec=spec: post_transaction(s, spec, clock=clock)
                    )
                    database.run(lambda s, tid=record.id: reverse_transaction(s, tid, clock=clock))
                    result = "reversed"
            except InsufficientFunds:
                result = "insufficient_funds"
            except LedgerError as error:
                result = error.code
            except BaseException as error:  # anything else is a defect
                with lock:
                    unexpected.append(error)
                return
            with lock:
                outcomes[result] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    assert unexpected == []
    assert sum(outcomes.values()) == THREADS * TRANSFERS_PER_THREAD
    assert outcomes["posted"] > 0 and outcomes["insufficient_funds"] > 0, outcomes
    assert set(outcomes) <= {"posted", "held", "reversed", "insufficient_funds"}, outcomes
    for account in wallets:
        balances = database.run(lambda s, a=account: get_account(s, a.id)).balances
        assert balances.available_minor >= 0
    # The fixture then checks: trial balance zero, stored balances = sums of postings.


def test_the_same_idempotency_key_sent_concurrently_gives_one_transaction(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    spec = transfer(bank.id, alice.id, 1_234, idempotency_key="same-order", client_id="mto")
    barrier = threading.Barrier(THREADS)

    def send(_: int):
        barrier.wait()
        return database.run(lambda s: post_transaction(s, spec, clock=clock))

    with ThreadPoolExecutor(THREADS) as pool:
        records = list(pool.map(send, range(THREADS)))
    assert len({record.id for record in records}) == 1
    assert sum(not record.replayed for record in records) == 1
    count = database.run(
        lambda s: s.execute(select(func.count()).select_from(Transaction)).scalar_one()
    )
    assert count == 1
    assert database.run(lambda s: get_account(s, alice.id)).balances.posted_minor == 1_234


def test_concurrent_holds_cannot_overspend(database, clock):
    bank, alice, bob = open_accounts(database, clock, cash("bank"), wallet("alice"), wallet("bob"))
    database.run(lambda s: post_transaction(s, transfer(bank.id, alice.id, 10_000), clock=clock))
    barrier = threading.Barrier(THREADS)

    def reserve(_: int) -> bool:
        barrier.wait()
        try:
            database.run(
                lambda s: create_pending(s, transfer(alice.id, bob.id, 3_000), clock=clock)
            )
            return True
        except InsufficientFunds:
            return False

    with ThreadPoolExecutor(THREADS) as pool:
        granted = sum(pool.map(reserve, range(THREADS)))
    assert granted == 3  # 3 x 30.00 fit in 100.00; a fourth would not
    balances = database.run(lambda s: get_account(s, alice.id)).balances
    assert (balances.posted_minor, balances.available_minor) == (10_000, 1_000)


def test_concurrent_reversals_of_one_transaction_reverse_it_once(database, clock):
    bank, alice = open_accounts(database, clock, cash("bank"), wallet("alice"))
    payment = database.run(
        lambda s: post_transaction(s, transfer(bank.id, alice.id, 500), clock=clock)
    )
    barrier = threading.Barrier(4)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            database.run(lambda s: reverse_transaction(s, payment.id, clock=clock))
            return "reversed"
        except LedgerError as error:
            return error.code

    with ThreadPoolExecutor(4) as pool:
        results = Counter(pool.map(attempt, range(4)))
    assert results == Counter({"reversed": 1, "already_reversed": 3})
