"""Benchmark of the journal's posting path against the database's own ceiling.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/ledger_bench \\
        .venv/bin/python scripts/bench_ledger.py [--transfers 8000] [--workers 8]

Scenarios, each with K worker processes posting through ``ledger.journal`` (one
unit of work per transfer, exactly as a request would):

* single   transfers between random pairs of 1,000 funded wallets;
* hot      every transfer touches one hot account (the other side random);
* batch    1,000-transfer batches (2,000 postings each);
* raw      the same single and hot workload with plain psycopg and no ledger: per
           transfer BEGIN, two account UPDATEs (in id order), one INSERT, COMMIT;
           and the same batches: per 1,000 transfers one UPDATE of the summed
           balance changes and one multi-row INSERT (the database's batch ceiling).

It prints transfers/s, latency percentiles, and the ratios the targets are
stated in (PostgreSQL, this 2-core machine): single >= 40% of raw, hot >= 70% of
single, batch >= 100,000 postings/s.

Every run starts from the same state: on PostgreSQL it creates a throwaway
database next to the configured one (``<name>_bench_<run>``), migrates it and
drops it afterwards (``--keep`` keeps it); a growing database would make runs
incomparable (the first 130 MB outgrow the default shared_buffers).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from _bench_common import Result, drop_database, result_of, throwaway_database
from sqlalchemy import create_engine, make_url, text

from ledger.config import normalize_database_url
from ledger.db import create_database
from ledger.journal import AccountSpec, open_account, post_batch, post_transaction
from ledger.journal.types import TransactionSpec, credit, debit
from ledger.migrations import upgrade

WALLETS = 1_000
FUNDING_MINOR = 10**12
TARGETS = {"single_vs_raw": 0.40, "hot_vs_single": 0.70, "batch_postings_per_second": 100_000}


def setup_accounts(url: str, run: str) -> tuple[int, int, list[int]]:
    database = create_database(url)
    now = datetime.now(UTC)

    def open_all(session: Any) -> tuple[int, int, list[int]]:
        bank = open_account(
            session,
            AccountSpec(f"bench:{run}:bank", "bank", "asset", "USD", allow_overdraft=True),
            now=now,
        ).id
        hot = open_account(
            session, AccountSpec(f"bench:{run}:hot", "hot", "liability", "USD"), now=now
        ).id
        wallets = [
            open_account(
                session, AccountSpec(f"bench:{run}:w{i}", f"w{i}", "liability", "USD"), now=now
            ).id
            for i in range(WALLETS)
        ]
        return bank, hot, wallets

    bank, hot, wallets = database.run(open_all)
    funding = [
        TransactionSpec((debit(bank, FUNDING_MINOR, "USD"), credit(account, FUNDING_MINOR, "USD")))
        for account in [hot, *wallets]
    ]
    for start in range(0, len(funding), 1_000):
        database.run(lambda s, chunk=funding[start : start + 1_000]: post_batch(s, chunk))
    database.dispose()
    return bank, hot, wallets


def pair(rng: random.Random, hot: int | None, wallets: list[int]) -> tuple[int, int]:
    if hot is None:
        source, target = rng.sample(wallets, 2)
    else:
        source, target = hot, rng.choice(wallets)
        if rng.random() < 0.5:
            source, target = target, source
    return source, target


# --------------------------------------------------------------------------- workers


def ledger_worker(
    url: str, count: int, seed: int, hot: int | None, wallets: list[int], barrier: Any, queue: Any
) -> None:
    database = create_database(url)
    rng = random.Random(seed)
    transfers = [pair(rng, hot, wallets) for _ in range(count)]
    database.run(lambda s: s.execute(text("SELECT 1")))  # open the pooled connection first
    latencies, errors = [], 0
    barrier.wait()
    started = time.perf_counter()
    for source, target in transfers:
        spec = TransactionSpec((debit(source, 1, "USD"), credit(target, 1, "USD")))
        begin = time.perf_counter()
        try:
            database.run(lambda s, spec=spec: post_transaction(s, spec))
        except Exception:  # counted and reported; a benchmark must not stop half-way
            errors += 1
        latencies.append(time.perf_counter() - begin)
    queue.put((started, time.perf_counter(), latencies, errors))
    database.dispose()


def batch_worker(
    url: str, count: int, seed: int, hot: int | None, wallets: list[int], barrier: Any, queue: Any
) -> None:
    database = create_database(url)
    rng = random.Random(seed)
    batches = [
        [
            TransactionSpec((debit(s, 1, "USD"), credit(t, 1, "USD")))
            for s, t in (pair(rng, None, wallets) for _ in range(1_000))
        ]
        for _ in range(count)
    ]
    database.run(lambda s: s.execute(text("SELECT 1")))
    latencies, errors = [], 0
    barrier.wait()
    started = time.perf_counter()
    for batch in batches:
        begin = time.perf_counter()
        try:
            database.run(lambda s, batch=batch: post_batch(s, batch))
        except Exception:
            errors += 1
        latencies.append(time.perf_counter() - begin)
    queue.put((started, time.perf_counter(), latencies, errors))
    database.dispose()


def raw_worker(
    url: str, count: int, seed: int, hot: int | None, wallets: list[int], barrier: Any, queue: Any
) -> None:
    import psycopg

    parsed = make_url(url)
    connection = psycopg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
    )
    rng = random.Random(seed)
    transfers = [pair(rng, hot, wallets) for _ in range(count)]
    latencies, errors = [], 0
    barrier.wait()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for source, target in transfers:
            begin = time.perf_counter()
            try:
                for account, change in sorted(((source, -1), (target, 1))):
                    cursor.execute(
                        "UPDATE bench_raw.accounts SET balance = balance + %s WHERE id = %s",
                        (change, account),
                    )
                cursor.execute(
                    "INSERT INTO bench_raw.transfers (debit_id, credit_id, amount) "
                    "VALUES (%s, %s, 1)",
                    (source, target),
                )
                connection.commit()
            except Exception:
                connection.rollback()
                errors += 1
            latencies.append(time.perf_counter() - begin)
    queue.put((started, time.perf_counter(), latencies, errors))
    connection.close()


def raw_batch_worker(
    url: str, count: int, seed: int, hot: int | None, wallets: list[int], barrier: Any, queue: Any
) -> None:
    """The database's ceiling for batches: per 1,000 transfers one INSERT of the
    transfers and one UPDATE of the summed changes, accounts in id order."""
    import psycopg

    parsed = make_url(url)
    connection = psycopg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
    )
    rng = random.Random(seed)
    batches = [[pair(rng, None, wallets) for _ in range(1_000)] for _ in range(count)]
    latencies, errors = [], 0
    barrier.wait()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for batch in batches:
            begin = time.perf_counter()
            try:
                changes: dict[int, int] = {}
                for source, target in batch:
                    changes[source] = changes.get(source, 0) - 1
                    changes[target] = changes.get(target, 0) + 1
                ordered = sorted(changes.items())
                cursor.execute(
                    "UPDATE bench_raw.accounts a SET balance = a.balance + c.change "
                    "FROM unnest(%s::bigint[], %s::bigint[]) AS c(id, change) WHERE a.id = c.id",
                    ([k for k, _ in ordered], [v for _, v in ordered]),
                )
                cursor.execute(
                    "INSERT INTO bench_raw.transfers (debit_id, credit_id, amount) "
                    "SELECT d, c, 1 FROM unnest(%s::bigint[], %s::bigint[]) AS t(d, c)",
                    ([s for s, _ in batch], [t for _, t in batch]),
                )
                connection.commit()
            except Exception:
                connection.rollback()
                errors += 1
            latencies.append(time.perf_counter() - begin)
    queue.put((started, time.perf_counter(), latencies, errors))
    connection.close()


def setup_raw(url: str, account_ids: list[int]) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS bench_raw CASCADE"))
        connection.execute(text("CREATE SCHEMA bench_raw"))
        connection.execute(
            text("CREATE TABLE bench_raw.accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)")
        )
        connection.execute(
            text(
                "CREATE TABLE bench_raw.transfers (id bigserial PRIMARY KEY, debit_id bigint, "
                "credit_id bigint, amount bigint, created_at timestamptz DEFAULT now())"
            )
        )
        connection.execute(
            text("INSERT INTO bench_raw.accounts SELECT unnest(CAST(:ids AS bigint[])), :f"),
            {"ids": account_ids, "f": FUNDING_MINOR},
        )
    engine.dispose()


def drop_raw(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS bench_raw CASCADE"))
    engine.dispose()


# ----------------------------------------------------------------------------- runner


def run_scenario(
    name: str,
    worker: Callable[..., None],
    url: str,
    operations: int,
    workers: int,
    hot: int | None,
    wallets: list[int],
    per_operation: int = 1,
) -> Result:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers)
    queue = context.Queue()
    share = [operations // workers + (1 if i < operations % workers else 0) for i in range(workers)]
    processes = [
        context.Process(
            target=worker, args=(url, share[i], 1_000 + i, hot, wallets, barrier, queue)
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    reports = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    started = min(report[0] for report in reports)
    finished = max(report[1] for report in reports)
    latencies = sorted(latency for report in reports for latency in report[2])
    seconds = finished - started
    done = sum(share) * per_operation
    return result_of(name, done, seconds, latencies, sum(report[3] for report in reports))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--transfers", type=int, default=8_000, help="per single/hot scenario")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--batches", type=int, default=40, help="1,000-transfer batches")
    parser.add_argument("--batch-workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print results as JSON too")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    arguments = parser.parse_args(argv)
    if not arguments.database_url:
        parser.error("set DATABASE_URL or --database-url (a PostgreSQL database for real figures)")
    run = uuid.uuid4().hex[:8]
    url = throwaway_database(normalize_database_url(arguments.database_url), run)
    try:
        return measure(url, run, arguments)
    finally:
        if url.startswith("postgresql") and not arguments.keep:
            drop_database(url)


def measure(url: str, run: str, arguments: argparse.Namespace) -> int:
    upgrade(url)
    print(f"setting up run {run}: {WALLETS} wallets + 1 hot account", flush=True)
    _, hot, wallets = setup_accounts(url, run)
    postgres = make_url(url).get_backend_name() == "postgresql"

    results = []
    common = {"url": url, "workers": arguments.workers, "wallets": wallets}
    results.append(
        run_scenario(
            "ledger single", ledger_worker, operations=arguments.transfers, hot=None, **common
        )
    )
    results.append(
        run_scenario("ledger hot", ledger_worker, operations=arguments.transfers, hot=hot, **common)
    )
    batch = run_scenario(
        "ledger batch (postings)",
        batch_worker,
        url=url,
        operations=arguments.batches,
        workers=arguments.batch_workers,
        hot=None,
        wallets=wallets,
        per_operation=2_000,
    )
    results.append(batch)
    if postgres:
        setup_raw(url, [hot, *wallets])
        try:
            results.append(
                run_scenario(
                    "raw psycopg single",
                    raw_worker,
                    operations=arguments.transfers,
                    hot=None,
                    **common,
                )
            )
            results.append(
                run_scenario(
                    "raw psycopg hot", raw_worker, operations=arguments.transfers, hot=hot, **common
                )
            )
            results.append(
                run_scenario(
                    "raw psycopg batch (postings)",
                    raw_batch_worker,
                    url=url,
                    operations=arguments.batches,
                    workers=arguments.batch_workers,
                    hot=None,
                    wallets=wallets,
                    per_operation=2_000,
                )
            )
        finally:
            drop_raw(url)

    by_name = {result.scenario: result for result in results}
    print(
        f"\n{'scenario':<26}{'ops':>9}{'seconds':>10}{'per second':>13}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    )
    for result in results:
        print(
            f"{result.scenario:<26}{result.operations:>9}{result.seconds:>10.2f}"
            f"{result.per_second:>13,.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
            f"{result.errors:>8}"
        )
    single = by_name["ledger single"].per_second
    hot_rate = by_name["ledger hot"].per_second
    ratios: dict[str, float] = {
        "hot_vs_single": round(hot_rate / single, 3),
        "batch_postings_per_second": batch.per_second,
    }
    if postgres:
        ratios["single_vs_raw"] = round(single / by_name["raw psycopg single"].per_second, 3)
        ratios["hot_vs_raw_hot"] = round(hot_rate / by_name["raw psycopg hot"].per_second, 3)
        ratios["batch_vs_raw_batch"] = round(
            batch.per_second / by_name["raw psycopg batch (postings)"].per_second, 3
        )
    print(
        f"\nworkers {arguments.workers} (batches: {arguments.batch_workers}), "
        f"database {make_url(url).get_backend_name()}"
    )
    for key, value in ratios.items():
        target = TARGETS.get(key)
        verdict = (
            ""
            if target is None
            else ("  meets target" if value >= target else f"  BELOW target {target}")
        )
        print(f"  {key:<28}{value:>14,}{verdict}")
    if arguments.json:
        print(json.dumps({"results": [asdict(r) for r in results], "ratios": ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
