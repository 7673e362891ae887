"""Benchmark of credit: schedule generation, and loan lifecycles on PostgreSQL.

    .venv/bin/python scripts/bench_credit.py [--schedules 20000] [--loans 200]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

* schedules    ``ledger.credit.schedule.generate`` for 36-installment loans in one
               process, for each interest method and amortization (random principals
               and rates, monthly, per-period interest; then daily actual/365):
               schedules per second. Target (issue 5): at least 5,000/s.
* lifecycle    on a throwaway PostgreSQL database, set up through the library (a scheme
               with capital, a product, a partner's borrowers with remittance history),
               each loan's whole life as the service runs it, one unit of work per step:
               apply (scored), approve, disburse, then 12 monthly repayments (on time)
               until closed. Operations per second and per step, from one process (the
               steps of one loan are sequential by nature; loans could run in parallel).

Figures go to README.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench_common import drop_database, throwaway_database

from ledger.access import create_principal
from ledger.config import normalize_database_url
from ledger.credit.applications import apply, decide
from ledger.credit.disbursement import disburse
from ledger.credit.loans import get_loan, schedule_of
from ledger.credit.products import create_product
from ledger.credit.repayments import repay
from ledger.credit.schedule import ScheduleTerms, generate
from ledger.credit.schemes import create_scheme, pledge, receive
from ledger.credit.terms import Charge, ProductTerms, ScoringRules
from ledger.db import create_database
from ledger.journal import (
    AccountSpec,
    TransactionSpec,
    check_invariants,
    credit,
    debit,
    open_account,
    post_batch,
)
from ledger.migrations import upgrade
from ledger.parties import PartnerAccountSpec, create_customer, open_partner_account
from ledger.remittance.records import wallet_suffix

INSTALLMENTS = 36
time_of_day = datetime.min.time().replace(hour=9)
TARGET_SCHEDULES = 5_000


def bench_schedules(count: int) -> dict[str, Any]:
    rng = random.Random(7)
    cases = {}
    for label, settings in (
        ("declining, equal installments", {}),
        ("declining, equal principal", {"amortization": "equal_principal"}),
        ("flat", {"interest_method": "flat"}),
        ("declining, daily actual/365", {"interest_period": "daily", "day_count": "actual/365"}),
    ):
        terms = [
            ScheduleTerms("TJS", Decimal(rng.randint(100, 4_000)) / 100, **settings)
            for _ in range(64)
        ]
        principals = [rng.randint(10_000, 10_000_000) for _ in range(count)]
        start = date(2026, 1, 15)
        began = time.perf_counter()
        for number, principal in enumerate(principals):
            generate(terms[number % 64], principal, INSTALLMENTS, start)
        seconds = time.perf_counter() - began
        cases[label] = round(count / seconds)
    return cases


def setup(url: str, borrowers: int) -> dict[str, Any]:
    database = create_database(url)
    now = datetime(2026, 3, 1, 9, tzinfo=UTC)

    def build(c: Any) -> dict[str, Any]:
        partner = create_principal(
            c, slug="bench-partner", name="Bench MTO", role="partner", now=now
        )
        manager = create_principal(
            c, slug="bench-fund", name="Bench fund", role="fund_manager", now=now
        )
        scheme = create_scheme(
            c,
            manager,
            slug="bench",
            name="Bench fund",
            currency="TJS",
            country="TJ",
            first_loss_percent=Decimal(10),
            now=now,
        )
        made = pledge(
            c,
            scheme,
            kind="investor",
            reference="capital",
            investor_name="Investors",
            amount_minor=10**13,
            now=now,
        )
        receive(c, scheme, made.id, now=now)
        product = create_product(
            c,
            scheme,
            name="Bench loan",
            terms=ProductTerms(
                currency="TJS",
                min_principal_minor=100_000,
                max_principal_minor=5_000_000,
                min_installments=3,
                max_installments=36,
                schedule=ScheduleTerms("TJS", Decimal(24)),
                origination_fee=Charge("percent", Decimal("0.02")),
                # No remittance history in this benchmark: scoring says "declined" and
                # the manager approves with a note (both steps are measured all the same).
                scoring=ScoringRules(min_regular_months=0),
            ),
            now=now,
        )
        cash = open_account(
            c, AccountSpec("bench:cash:TJS", "cash", "asset", "TJS", allow_overdraft=True), now=now
        )
        people = []
        for number in range(borrowers):
            customer = create_customer(
                c,
                partner.id,
                external_id=f"b-{number}",
                full_name=f"Borrower {number}",
                country="TJ",
                kind="entrepreneur",
                now=now,
            )
            wallet = open_partner_account(
                c,
                partner,
                PartnerAccountSpec(
                    "wallet",
                    "liability",
                    "TJS",
                    code=wallet_suffix(customer.id, "TJS"),
                    customer_id=customer.id,
                ),
                now=now,
            ).account.id
            people.append((customer.id, wallet))
        deposits = [
            TransactionSpec((debit(cash.id, 10_000_000, "TJS"), credit(wallet, 10_000_000, "TJS")))
            for _, wallet in people
        ]
        for first in range(0, len(deposits), 1_000):
            post_batch(c, deposits[first : first + 1_000])
        return {
            "partner": partner,
            "manager": manager,
            "scheme": scheme,
            "product": product,
            "people": people,
            "now": now,
        }

    fixture = database.run(build)
    database.dispose()
    return fixture


def bench_lifecycle(url: str, fixture: dict[str, Any]) -> dict[str, Any]:
    database = create_database(url)
    partner, manager = fixture["partner"], fixture["manager"]
    scheme, product = fixture["scheme"], fixture["product"]
    timings: dict[str, list[float]] = defaultdict(list)

    def timed(step: str, work: Any) -> Any:
        began = time.perf_counter()
        result = database.run(work)
        timings[step].append(time.perf_counter() - began)
        return result

    began = time.perf_counter()
    for customer_id, _ in fixture["people"]:
        now = fixture["now"]
        application = timed(
            "apply",
            lambda c, cid=customer_id, now=now: apply(
                c,
                partner,
                customer_id=cid,
                scheme_id=scheme.id,
                product_id=product.id,
                principal_minor=300_000,
                installments=12,
                purpose="workshop",
                description="machines",
                now=now,
            ),
        )
        timed(
            "approve",
            lambda c, a=application.id, now=now: decide(
                c, manager, a, approve=True, note="bench", now=now
            ),
        )
        loan = timed(
            "disburse", lambda c, a=application.id, now=now: disburse(c, manager, a, now=now)
        )
        plan = database.run(lambda c, lid=loan.id: schedule_of(c, get_loan(c, lid)))
        for item in plan:  # each installment paid on its due date
            when = datetime.combine(item.due_date, time_of_day, tzinfo=UTC)
            amount = item.principal_minor + item.interest_minor
            timed(
                "repay",
                lambda c, lid=loan.id, n=item.number, amount=amount, when=when: repay(
                    c, lid, amount_minor=amount, reference=f"i{n}", now=when
                ),
            )
        state = database.run(lambda c, lid=loan.id: get_loan(c, lid).status)
        assert state == "closed", state
    seconds = time.perf_counter() - began
    operations = sum(len(v) for v in timings.values())
    problems = database.run(check_invariants)
    database.dispose()
    return {
        "loans": len(fixture["people"]),
        "operations": operations,
        "seconds": round(seconds, 2),
        "operations_per_second": round(operations / seconds, 1),
        "by_step_ms_p50": {k: round(statistics.median(v) * 1_000, 2) for k, v in timings.items()},
        "invariant_problems": len(problems),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=20_000)
    parser.add_argument("--loans", type=int, default=200, help="lifecycles (0: skip)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    arguments = parser.parse_args(argv)
    schedules = bench_schedules(arguments.schedules)
    print(f"schedules/s ({INSTALLMENTS} installments, one process):")
    for label, rate in schedules.items():
        verdict = "met" if rate >= TARGET_SCHEDULES else "NOT met"
        print(f"  {label:<34} {rate:>8,}/s  (target {TARGET_SCHEDULES:,}: {verdict})")
    if arguments.loans:
        url = throwaway_database(
            normalize_database_url(arguments.database_url), uuid.uuid4().hex[:8]
        )
        try:
            upgrade(url)
            fixture = setup(url, arguments.loans)
            result = bench_lifecycle(url, fixture)
        finally:
            drop_database(url)
        print(
            f"lifecycle on PostgreSQL: {result['loans']} loans, {result['operations']} operations "
            f"in {result['seconds']} s = {result['operations_per_second']} operations/s; "
            f"p50 per step (ms): {result['by_step_ms_p50']}; invariant problems: "
            f"{result['invariant_problems']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
