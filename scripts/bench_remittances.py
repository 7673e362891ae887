"""Benchmark of remittances: end to end over HTTP, and the bulk CSV import.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python scripts/bench_remittances.py [--flows 3000] [--clients 8] [--rows 100000]

Each run creates a throwaway PostgreSQL database next to DATABASE_URL, migrates it and
sets up through the library: a partner with an API key, the corridor RU-RUB-TJ-TJS
with the partner's price, today's mid-rates, RUB liquidity prefunded with plenty, and
1,000 beneficiaries with their TJS wallets. Then:

* http flow    the real server (gunicorn, sync workers, request logs off, rate limits
               off) and K client processes with keep-alive connections, each repeating
               the whole flow a partner runs per remittance: POST /v1/quotes, POST
               /v1/remittances with the quote (an Idempotency-Key), POST
               /v1/remittances/{id}/complete (another key). A flow counts when all three
               answered as expected; remittances/s is flows per second. Per-step p50/p99.
* csv import   a generated file of N completed remittances (1,000 beneficiaries by
               external id, amounts from 500.00 to 60,000.00 RUB, the partner's fee and
               rate), imported by the real CLI (``ledger import-remittances``) in a child
               process: rows/s and the child's peak memory; then the same file again
               (every row a duplicate: the idempotent path).

It prints CPU per operation of clients, gunicorn and PostgreSQL, so a figure bound by
this machine's 2 cores shows as such, and checks afterwards that every currency
balances and the partner's settlement account equals top-up less what the
remittances took. Targets (issue 4): at least 300 remittances/s over HTTP and at
least 10,000 imported rows/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench_common import drop_database, result_of, throwaway_database
from bench_api import (
    CORES,
    Server,
    ServerConfig,
    cpu_seconds,
    postgres_pids,
    speed_probe,
)
from sqlalchemy import make_url

from ledger.access import create_principal, issue_key
from ledger.config import normalize_database_url
from ledger.db import create_database
from ledger.journal import check_invariants, get_account
from ledger.migrations import upgrade
from ledger.parties import PartnerAccountSpec, create_customer, open_partner_account
from ledger.remittance.corridors import create_corridor, set_pricing
from ledger.remittance.liquidity import adjust_liquidity, configure_liquidity
from ledger.remittance.pricing import FeeSchedule, FeeTier
from ledger.remittance.rates import RateInput, load_rates
from ledger.remittance.records import wallet_suffix

ROOT = Path(__file__).resolve().parent.parent
CORRIDOR = "RU-RUB-TJ-TJS"
BENEFICIARIES = 1_000
TOP_UP_MINOR = 10**15
MID_RATE = Decimal("0.1192")
MARGIN = Decimal("0.004")
APPLIED = MID_RATE * (1 - MARGIN)
FEES = FeeSchedule("RUB", (FeeTier(0, 0, Decimal("0.015")),), minimum_minor=5_000)
TARGETS = {"http_remittances_per_second": 300, "import_rows_per_second": 10_000}


def setup(url: str, run: str) -> dict[str, Any]:
    database = create_database(url)
    now = datetime.now(UTC)

    def build(connection: Any) -> dict[str, Any]:
        partner = create_principal(
            connection, slug=f"bench-{run}", name="Benchmark MTO", role="partner", now=now
        )
        issued = issue_key(connection, partner.id, label="bench", now=now)
        create_corridor(
            connection,
            send_country="RU",
            send_currency="RUB",
            receive_country="TJ",
            receive_currency="TJS",
            now=now,
        )
        set_pricing(
            connection,
            partner.id,
            CORRIDOR,
            fees=FEES,
            fx_margin=MARGIN,
            rate_source="cbr",
            now=now - timedelta(seconds=1),
        )
        load_rates(
            connection,
            [
                RateInput(day, "cbr", "RUB", "TJS", MID_RATE)
                for day in (now.date(), now.date() - timedelta(days=1))
            ],
            now=now,
        )
        configure_liquidity(connection, partner, "RUB", net_debit_cap_minor=0, now=now)
        adjust_liquidity(
            connection,
            partner.id,
            "RUB",
            kind="top_up",
            amount_minor=TOP_UP_MINOR,
            reference="bench-prefunding",
            now=now,
        )
        customers = []
        for number in range(BENEFICIARIES):
            customer = create_customer(
                connection,
                partner.id,
                external_id=f"b-{number}",
                full_name=f"Beneficiary {number}",
                country="TJ",
                kind="migrant",
                now=now,
            )
            open_partner_account(
                connection,
                partner,
                PartnerAccountSpec(
                    name="wallet",
                    type="liability",
                    currency="TJS",
                    code=wallet_suffix(customer.id, "TJS"),
                    customer_id=customer.id,
                ),
                now=now,
            )
            customers.append(str(customer.id))
        return {
            "token": issued.secret,
            "slug": partner.slug,
            "partner_id": str(partner.id),
            "customers": customers,
        }

    fixture = database.run(build)
    database.dispose()
    return fixture


# ------------------------------------------------------------------ HTTP flow


def flow_client(
    port: int,
    token: str,
    customers: list[str],
    count: int,
    warmup: int,
    seed: int,
    prefix: str,
    barrier: Any,
    queue: Any,
) -> None:
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    base = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(path: str, body: dict[str, Any] | None, key: str | None) -> tuple[int, Any]:
        headers = dict(base)
        if key:
            headers["Idempotency-Key"] = key
        payload = json.dumps(body).encode() if body is not None else None
        try:
            connection.request("POST", path, payload, headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        except (OSError, http.client.HTTPException):
            connection.close()
            return 0, None

    def flow(number: int) -> tuple[str, list[float]]:
        amount = f"{rng.randint(500, 60_000)}.{rng.randint(0, 99):02d}"
        times = []
        begin = time.perf_counter()
        status, quote = call(
            "/v1/quotes",
            {"corridor": CORRIDOR, "send_amount": {"amount": amount, "currency": "RUB"}},
            None,
        )
        times.append(time.perf_counter() - begin)
        if status != 201:
            return f"quote {status}", times
        begin = time.perf_counter()
        body = {
            "partner_reference": f"{prefix}-{number}",
            "corridor": CORRIDOR,
            "sender": {"name": "Rustam Karimov", "country": "RU"},
            "beneficiary": {"customer_id": rng.choice(customers)},
            "quote_id": quote["id"],
        }
        status, remittance = call("/v1/remittances", body, f"{prefix}-r-{number}")
        times.append(time.perf_counter() - begin)
        if status != 201:
            return f"remittance {status}", times
        begin = time.perf_counter()
        status, done = call(
            f"/v1/remittances/{remittance['id']}/complete", None, f"{prefix}-c-{number}"
        )
        times.append(time.perf_counter() - begin)
        if status != 200 or done["status"] != "completed":
            return f"complete {status}", times
        return "ok", times

    for number in range(warmup):
        flow(-1 - number)
    barrier.wait()
    barrier.wait()
    cpu = time.process_time()
    started = time.perf_counter()
    outcomes: Counter[str] = Counter()
    flows, steps = [], [[], [], []]
    for number in range(count):
        begin = time.perf_counter()
        outcome, times = flow(number)
        flows.append(time.perf_counter() - begin)
        outcomes[outcome] += 1
        for index, value in enumerate(times):
            steps[index].append(value)
    queue.put((started, time.perf_counter(), flows, steps, outcomes, time.process_time() - cpu))
    connection.close()


def run_flows(
    url: str, fixture: dict[str, Any], arguments: argparse.Namespace, work: Path
) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    clients = arguments.clients
    barrier, queue = context.Barrier(clients + 1), context.Queue()
    share = [arguments.flows // clients + (i < arguments.flows % clients) for i in range(clients)]
    config = ServerConfig(arguments.workers)
    with Server(url, config, log_requests=False, log_path=work / "gunicorn.log") as server:
        processes = [
            context.Process(
                target=flow_client,
                args=(
                    server.port,
                    fixture["token"],
                    fixture["customers"],
                    share[i],
                    arguments.warmup,
                    zlib.crc32(f"{i}".encode()),
                    f"flow-{i}",
                    barrier,
                    queue,
                ),
            )
            for i in range(clients)
        ]
        for process in processes:
            process.start()
        barrier.wait()
        server_pids, pg_pids = server.pids(), postgres_pids()
        server_cpu, pg_cpu = cpu_seconds(server_pids), cpu_seconds(pg_pids)
        barrier.wait()
        reports = [queue.get() for _ in processes]
        server_cpu = cpu_seconds(server_pids) - server_cpu
        pg_cpu = cpu_seconds(pg_pids) - pg_cpu
        for process in processes:
            process.join()
    seconds = max(r[1] for r in reports) - min(r[0] for r in reports)
    outcomes: Counter[str] = Counter()
    for report in reports:
        outcomes.update(report[4])
    flows = sorted(x for r in reports for x in r[2])
    ok = outcomes["ok"]
    result = result_of(
        f"http flow ({config.label}, {clients} clients)",
        ok,
        seconds,
        flows,
        sum(outcomes.values()) - ok,
    )
    steps = {}
    for index, name in enumerate(("quote", "remittance", "complete")):
        values = sorted(x for r in reports for x in r[3][index])
        step = result_of(name, len(values), seconds, values, 0)
        steps[name] = {"p50_ms": step.p50_ms, "p99_ms": step.p99_ms}
    client_cpu = sum(r[5] for r in reports)
    total = sum(share)
    return {
        "result": result.__dict__,
        "outcomes": dict(outcomes),
        "steps": steps,
        "cpu_ms_per_flow": {
            "clients": round(client_cpu / total * 1_000, 2),
            "gunicorn": round(server_cpu / total * 1_000, 2),
            "postgresql": round(pg_cpu / total * 1_000, 2),
        },
        "machine_busy_share": round((client_cpu + server_cpu + pg_cpu) / (seconds * CORES), 3),
    }


# ------------------------------------------------------------------ CSV import


def write_file(path: Path, rows: int, seed: int) -> int:
    """A file of completed remittances; returns the sum of what they take (minor)."""
    rng = random.Random(seed)
    completed = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    taken = 0
    with path.open("w", encoding="utf-8") as file:
        file.write(
            "partner_reference,corridor,sender_name,sender_country,beneficiary_external_id,"
            "send_amount,fee,rate,completed_at\n"
        )
        for number in range(rows):
            send_minor = rng.randint(50_000, 6_000_000)
            fee_minor = max(5_000, send_minor * 15 // 1_000)
            taken += send_minor + fee_minor
            file.write(
                f"CSV-{number},{CORRIDOR},Sender {number % 977},RU,"
                f"b-{rng.randrange(BENEFICIARIES)},{send_minor / 100:.2f},{fee_minor / 100:.2f},"
                f"{APPLIED},{completed}\n"
            )
    return taken


def run_import(url: str, slug: str, path: Path) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url}
    ledger = Path(sys.executable).parent / "ledger"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [str(ledger), "import-remittances", "--partner", slug, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode not in (0, 2):
        raise RuntimeError(completed.stderr[-2_000:])
    return {
        "seconds": round(seconds, 2),
        "summary": completed.stdout.strip().splitlines()[0],
        "child_cpu_seconds": round(
            (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 2
        ),
        "child_peak_rss_mb": round(after.ru_maxrss / 1_024, 1),
    }


def check(url: str, fixture: dict[str, Any], taken_expected: int | None) -> dict[str, Any]:
    from sqlalchemy import text

    database = create_database(url)

    def read(connection: Any) -> dict[str, Any]:
        problems = check_invariants(connection)
        settlement = connection.execute(
            text("SELECT settlement_account_id FROM partner_liquidity WHERE partner_id = :p"),
            {"p": uuid.UUID(fixture["partner_id"])},
        ).scalar_one()
        posted = get_account(connection, settlement).balances.posted_minor
        taken = connection.execute(
            text(
                "SELECT COALESCE(SUM(send_minor + fee_minor), 0) FROM remittances "
                "WHERE status = 'completed'"
            )
        ).scalar_one()
        return {
            "invariant_problems": len(problems),
            "settlement_equals_top_up_less_remittances": posted == TOP_UP_MINOR - int(taken),
            "completed": connection.execute(
                text("SELECT count(*) FROM remittances WHERE status = 'completed'")
            ).scalar_one(),
        }

    figures = database.run(read)
    database.dispose()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--flows", type=int, default=3_000, help="HTTP flows (0: skip)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=CORES + 2, help="gunicorn sync workers")
    parser.add_argument("--warmup", type=int, default=5, help="untimed flows per client")
    parser.add_argument("--rows", type=int, default=100_000, help="CSV rows (0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    arguments = parser.parse_args(argv)
    run = uuid.uuid4().hex[:8]
    url = throwaway_database(normalize_database_url(arguments.database_url), run)
    if make_url(url).get_backend_name() != "postgresql":
        raise SystemExit("bench_remittances needs PostgreSQL")
    work = Path(tempfile.mkdtemp(prefix=f"bench_remittances_{run}_"))
    figures: dict[str, Any] = {"run": run, "speed_probe_ms": speed_probe()}
    try:
        upgrade(url)
        fixture = setup(url, run)
        print(f"run {run}: load average {os.getloadavg()[0]:.2f}", flush=True)
        if arguments.flows:
            print(f"  http flow: {arguments.flows} flows, {arguments.clients} clients", flush=True)
            figures["http"] = run_flows(url, fixture, arguments, work)
            print(json.dumps(figures["http"], indent=2), flush=True)
        if arguments.rows:
            path = work / "remittances.csv"
            write_file(path, arguments.rows, seed=7)
            print(
                f"  csv import: {arguments.rows} rows ({path.stat().st_size:,} bytes)", flush=True
            )
            first = run_import(url, fixture["slug"], path)
            first["rows_per_second"] = round(arguments.rows / first["seconds"])
            print("  again (every row a duplicate)", flush=True)
            again = run_import(url, fixture["slug"], path)
            again["rows_per_second"] = round(arguments.rows / again["seconds"])
            figures["import"] = {"first": first, "again": again}
            print(json.dumps(figures["import"], indent=2), flush=True)
        figures["check"] = check(url, fixture, None)
        print(json.dumps(figures["check"]), flush=True)
    finally:
        if not arguments.keep:
            drop_database(url)
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()
    verdicts = []
    if "http" in figures:
        rate = figures["http"]["result"]["per_second"]
        target = TARGETS["http_remittances_per_second"]
        verdicts.append(
            f"http remittances/s {rate} (target {target}: {'met' if rate >= target else 'NOT met'})"
        )
    if "import" in figures:
        rate = figures["import"]["first"]["rows_per_second"]
        target = TARGETS["import_rows_per_second"]
        verdicts.append(
            f"import rows/s {rate} (target {target}: {'met' if rate >= target else 'NOT met'})"
        )
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
