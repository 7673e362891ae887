"""Benchmark of the integrations on PostgreSQL: Stripe events booked, a payout and its
reconciliation, and webhook deliveries to a local HTTP server.

    .venv/bin/python scripts/bench_integrations.py [--events 2000] [--deliveries 2000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

On a throwaway database, one scheme (TJS) and ``--events`` pledged contributions, each
with its PaymentIntent (created through ``StripeClient`` against the local stand-in for
Stripe's servers, ``tests/stripe_fake.py``; no network). Measured:

* ``payment_intent.succeeded`` events, signed with the SDK's helper and handled one
  after another as the webhook endpoint handles them (verify, store by id, read the
  payment back through the SDK, book charge and fee): events/s, p50/p99 per event;
* one payout of all of them: booking (one read of its balance transactions, the
  transfer per scheme) and reconciling it (every item matched), seconds;
* ``--deliveries`` outbox events to one endpoint on a local ``ThreadingHTTPServer``:
  the worker's passes (``deliver_due``: claim, signed POST, record): deliveries/s.

There is no target in issue 7; the figures go to README. The fake answers in
microseconds, so the Stripe figures are the service's own cost per event (Stripe's
real latency, ~100-300 ms per call and three calls per event, would dominate).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench_common import drop_database, throwaway_database
from sqlalchemy import Connection

from integrations.stripe.provider import StripeProvider
from integrations.webhooks.delivery import deliver_due
from ledger.access import create_principal
from ledger.config import Settings
from ledger.credit.schemes import create_scheme, pledge
from ledger.db import Database, create_database
from ledger.events.endpoints import register_endpoint
from ledger.events.outbox import emit_many
from ledger.migrations import upgrade
from tests.stripe_fake import FakeStripe, signed
from tests.webhook_support import receiver

SECRET = "whsec_bench"  # noqa: S105 (signs the fake's events only)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)] * 1_000


def bench_stripe(database: Database, count: int) -> dict[str, float]:
    fake = FakeStripe(now=lambda: NOW)
    settings = Settings(stripe_api_key="sk_test_bench", stripe_webhook_secret=SECRET)
    provider = StripeProvider(settings, http_client=fake)

    def setup(c: Connection) -> Any:
        manager = create_principal(c, slug="fund", name="Fund", role="fund_manager", now=NOW)
        scheme = create_scheme(
            c,
            manager,
            slug="bench",
            name="Bench fund",
            currency="TJS",
            country="TJ",
            first_loss_percent=Decimal(10),
            now=NOW,
        )
        made = [
            pledge(
                c,
                scheme,
                kind="investor",
                reference=f"INV-{n}",
                investor_name=f"Investor {n}",
                amount_minor=100_000 + n,
                now=NOW,
            )
            for n in range(count)
        ]
        return manager, scheme, made

    manager, scheme, contributions = database.run(setup)
    intents = [
        provider.create_collection(database, manager, scheme.id, c.id, now=NOW).instructions[
            "payment_intent"
        ]
        for c in contributions
    ]
    events = [fake.succeed(intent) for intent in intents]
    latencies = []
    started = time.perf_counter()
    for event in events:
        body, headers = signed(event, SECRET, at=datetime.now(UTC))
        one = time.perf_counter()
        outcome = provider.handle(database, body, headers, now=NOW)
        latencies.append(time.perf_counter() - one)
        assert outcome.status == "processed", outcome
    elapsed = time.perf_counter() - started
    payout = fake.pay_out()
    body, headers = signed(payout, SECRET, at=datetime.now(UTC))
    one = time.perf_counter()
    assert provider.handle(database, body, headers, now=NOW).status == "processed"
    booked = time.perf_counter() - one
    one = time.perf_counter()
    report = provider.settlement_report(database, payout["data"]["object"]["id"], now=NOW)
    reconciled = time.perf_counter() - one
    assert report["discrepancies"] == 0 and len(report["matched"]) == count, report
    return {
        "events": count,
        "events_per_second": round(count / elapsed, 1),
        "event_p50_ms": round(percentile(latencies, 0.5), 2),
        "event_p99_ms": round(percentile(latencies, 0.99), 2),
        "payout_booking_s": round(booked, 3),
        "reconciliation_s": round(reconciled, 3),
    }


def bench_deliveries(database: Database, count: int) -> dict[str, float]:
    with receiver() as server:

        def setup(c: Connection) -> None:
            partner = create_principal(c, slug="partner", name="Partner", role="partner", now=NOW)
            register_endpoint(c, partner.id, url=server.url, event_types=["*"], now=NOW)
            emit_many(
                c,
                "remittance.completed",
                [(partner.id, {"remittance_id": str(n)}) for n in range(count)],
                now=NOW,
            )

        database.run(setup)
        started, delivered = time.perf_counter(), 0
        while delivered < count:
            outcome = deliver_due(database, now=lambda: NOW)
            if not any(outcome.values()):
                break
            delivered += outcome["delivered"]
        elapsed = time.perf_counter() - started
        assert delivered == count and len(server.received) == count
    return {
        "deliveries": count,
        "deliveries_per_second": round(count / elapsed, 1),
        "seconds": round(elapsed, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--deliveries", type=int, default=2_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    arguments = parser.parse_args()
    target = throwaway_database(arguments.database_url, f"integrations_{os.getpid()}")
    try:
        upgrade(target)
        database = create_database(target)
        print("stripe:", bench_stripe(database, arguments.events))
        print("webhooks:", bench_deliveries(database, arguments.deliveries))
        database.dispose()
    finally:
        drop_database(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
