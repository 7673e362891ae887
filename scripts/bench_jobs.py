"""Benchmark of the scheduler's set-based jobs and the portfolio endpoint on PostgreSQL.

    .venv/bin/python scripts/bench_jobs.py [--loans 10000 100000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

For each portfolio size, on a throwaway database: one scheme with one product, and
``N`` active 12-month loans disbursed over the three months before the measured date
(their schedules made by ``ledger.credit.schedule.generate``), 80% having paid their
first installment; the rows are bulk-loaded (the service's own path would take an hour
for 100,000 loans, and what is measured is the jobs, not the loading). Then, for the
business date 2026-06-15:

* accrual, delinquency, loss_reserve, snapshot: each job's own function in one unit of
  work, as the scheduler runs it: seconds, and the peak Python memory it allocated
  (tracemalloc, in a second run for the next date so the timing is not slowed by it);
* GET /v1/portfolio through the real Flask app as the fund manager: from the day's
  snapshot, and computed live (``from=`` forces it): p50 and worst of 5 calls.

Targets (issue 6): accrual for 100,000 active loans under 30 s; the portfolio endpoint
on 100,000 loans under 1 s. Figures go to README.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench_common import drop_database, throwaway_database
from sqlalchemy import Connection, insert

from api.app import create_app
from ledger.access import create_principal, issue_key
from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.credit.applications import applications
from ledger.credit.loans import installments_table, loans, repayments
from ledger.credit.products import create_product
from ledger.credit.schedule import ScheduleTerms, generate
from ledger.credit.schemes import create_scheme, pledge, receive
from ledger.credit.terms import Charge, ProductTerms, ScoringRules
from ledger.db import Database, create_database, refresh_statistics
from ledger.ids import uuid7
from ledger.jobs.daily import accrual, delinquency, loss_reserve, snapshot
from ledger.jobs.runs import JobContext
from ledger.journal import (
    AccountSpec,
    TransactionSpec,
    credit,
    debit,
    open_account,
    post_transaction,
)
from ledger.migrations import upgrade
from ledger.parties import create_customer

DAY = date(2026, 6, 15)
CHUNK = 5_000
TERMS = ProductTerms(
    currency="TJS",
    min_principal_minor=10_000,
    max_principal_minor=10_000_000,
    min_installments=3,
    max_installments=24,
    schedule=ScheduleTerms("TJS", Decimal(24)),
    origination_fee=Charge("percent", Decimal("0.02")),
    late_fee=Charge("flat", Decimal(5_000)),
    late_fee_after_days=7,
    scoring=ScoringRules(min_regular_months=0, max_amount_multiple=Decimal(100)),
)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def load_portfolio(database: Database, count: int) -> tuple[Any, str]:
    """The scheme and a fund manager's API key; ``count`` loans bulk-loaded."""
    opened = at(date(2026, 1, 1))

    def setup(c: Connection) -> tuple[Any, Any, Any, Any, int, uuid.UUID, str]:
        manager = create_principal(c, slug="fund", name="Fund", role="fund_manager", now=opened)
        partner = create_principal(c, slug="bank", name="Bank", role="partner", now=opened)
        scheme = create_scheme(
            c,
            manager,
            slug="bench",
            name="Bench fund",
            currency="TJS",
            country="TJ",
            first_loss_percent=Decimal(10),
            now=opened,
        )
        made = pledge(
            c,
            scheme,
            kind="investor",
            reference="I-1",
            investor_name="Investor",
            amount_minor=10**13,
            now=opened,
        )
        receive(c, scheme, made.id, now=opened)
        product = create_product(c, scheme, name="Loan", terms=TERMS, now=opened)
        customer = create_customer(
            c,
            partner.id,
            external_id="b-1",
            full_name="Borrower",
            country="TJ",
            kind="entrepreneur",
            now=opened,
        )
        wallet = open_account(
            c, AccountSpec("bench:wallet", "wallet", "liability", "TJS"), now=opened
        ).id
        cash = open_account(
            c, AccountSpec("bench:cash", "cash", "asset", "TJS", allow_overdraft=True), now=opened
        ).id
        # One real transaction the bulk-loaded loans and repayments point at.
        marker = post_transaction(
            c,
            TransactionSpec((debit(cash, 1, "TJS"), credit(wallet, 1, "TJS")), client_id="bench"),
            clock=FixedClock(opened),
        ).id
        key = issue_key(c, manager.id, label="bench", now=opened).secret
        return scheme, product, partner, customer, wallet, marker, key

    scheme, product, partner, customer, wallet, marker, key = database.run(setup)
    templates = {}
    for offset in range(90):  # disbursed on each of the 90 days before the date
        disbursed = DAY - timedelta(days=90 - offset)
        templates[offset] = (disbursed, generate(TERMS.schedule, 300_000, 12, disbursed))
    for start in range(0, count, CHUNK):
        batch = range(start, min(start + CHUNK, count))
        rows_applications, rows_loans, rows_items, rows_paid = [], [], [], []
        for n in batch:
            disbursed, schedule = templates[n % 90]
            application_id, loan_id = uuid7(), uuid7()
            rows_applications.append(
                {
                    "id": application_id,
                    "partner_id": partner.id,
                    "customer_id": customer.id,
                    "scheme_id": scheme.id,
                    "product_id": product.id,
                    "principal_minor": 300_000,
                    "installments": 12,
                    "purpose": "bench",
                    "description": "bench",
                    "score_decision": "approved",
                    "score": {},
                    "status": "disbursed",
                    "created_at": at(disbursed),
                }
            )
            rows_loans.append(
                {
                    "id": loan_id,
                    "application_id": application_id,
                    "scheme_id": scheme.id,
                    "product_id": product.id,
                    "partner_id": partner.id,
                    "customer_id": customer.id,
                    "borrower_account_id": wallet,
                    "currency": "TJS",
                    "principal_minor": 300_000,
                    "origination_fee_minor": 6_000,
                    "status": "active",
                    "schedule_version": 1,
                    "disbursement_transaction_id": marker,
                    "disbursed_at": at(disbursed),
                    "written_off_minor": 0,
                }
            )
            for item in schedule.installments:
                rows_items.append(
                    {
                        "loan_id": loan_id,
                        "version": 1,
                        "number": item.number,
                        "period_start": item.period_start,
                        "due_date": item.due_date,
                        "principal_minor": item.principal_minor,
                        "interest_minor": item.interest_minor,
                        "fee_minor": 0,
                    }
                )
            first = schedule.installments[0]
            if n % 5 != 0 and first.due_date <= DAY:  # 80% paid their first installment
                rows_paid.append(
                    {
                        "id": uuid7(),
                        "loan_id": loan_id,
                        "reference": "first",
                        "source": "direct",
                        "amount_minor": first.principal_minor + first.interest_minor,
                        "principal_minor": first.principal_minor,
                        "interest_minor": first.interest_minor,
                        "fee_minor": 0,
                        "penalty_minor": 0,
                        "prepaid_minor": 0,
                        "allocation": [],
                        "request_hash": "bench",
                        "transaction_id": marker,
                        "effective_at": at(first.due_date),
                        "created_at": at(first.due_date),
                    }
                )

        def load(c: Connection, rows: tuple[list[dict[str, Any]], ...]) -> None:
            for table, values in zip(
                (applications, loans, installments_table, repayments), rows, strict=True
            ):
                if values:
                    c.execute(insert(table), values)

        chunk = (rows_applications, rows_loans, rows_items, rows_paid)
        database.run(lambda c, chunk=chunk: load(c, chunk))
    database.run(
        lambda c: refresh_statistics(
            c, ("loans", "loan_installments", "repayments", "loan_applications")
        )
    )
    return scheme, key


def measure(database: Database, job: Callable[[Connection, JobContext], Any], day: date) -> float:
    context = JobContext(day, at(day + timedelta(days=1)))
    started = time.perf_counter()
    database.run(lambda c: job(c, context))
    return time.perf_counter() - started


def peak_memory(database: Database, job: Callable[[Connection, JobContext], Any], day: date) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    measure(database, job, day)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def endpoint(database: Database, scheme: Any, key: str) -> dict[str, tuple[float, float]]:
    clock = FixedClock(at(DAY + timedelta(days=1)))
    settings = Settings(rate_limit_per_second=0, log_requests=False)
    client = create_app(settings, database=database, clock=clock).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    result = {}
    for name, query in (
        ("snapshot", f"/v1/portfolio?scheme={scheme.id}&as_of={DAY}"),
        ("live", f"/v1/portfolio?scheme={scheme.id}&as_of={DAY}&from={DAY.replace(day=1)}"),
    ):
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            response = client.get(query, headers=headers)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.get_json()
        result[name] = (statistics.median(timings), max(timings))
    return result


def run(url: str, count: int) -> None:
    target = throwaway_database(url, f"jobs{count}_{os.getpid()}")
    try:
        upgrade(target)
        database = create_database(target)
        started = time.perf_counter()
        scheme, key = load_portfolio(database, count)
        print(f"\n{count:,} active loans loaded in {time.perf_counter() - started:.1f} s")
        print(f"{'job':<14}{'seconds':>10}{'peak MB':>10}")
        for name, job in (
            ("accrual", accrual),
            ("delinquency", delinquency),
            ("loss_reserve", loss_reserve),
            ("snapshot", snapshot),
        ):
            seconds = measure(database, job, DAY)
            peak = peak_memory(database, job, DAY + timedelta(days=1))
            print(f"{name:<14}{seconds:>10.2f}{peak / 2**20:>10.1f}")
        for name, (median, worst) in endpoint(database, scheme, key).items():
            print(
                f"GET /v1/portfolio ({name}): p50 {median * 1000:.0f} ms, "
                f"worst {worst * 1000:.0f} ms"
            )
        database.dispose()
    finally:
        drop_database(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    arguments = parser.parse_args()
    for count in arguments.loans:
        run(arguments.database_url, count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
