"""Commands of the integrations: ``ledger-integrations <command>``.

ledger-integrations worker
                      the scheduler's daily jobs and the webhook delivery, in one
                      process (APScheduler); what scripts/run starts
ledger-integrations deliver-webhooks [--once]
                      deliver what the outbox has due (--once: one pass, then exit)
ledger-integrations reconcile-stripe (--payout PO_ID ... | --since YYYY-MM-DD)
                      reconcile Stripe payouts with the books; prints each report
                      (JSON) and exits 1 when any has a discrepancy
ledger-integrations retry-stripe-events
                      process again the Stripe events that failed or never finished
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import stripe

from integrations.stripe.provider import StripeProvider
from integrations.webhooks.delivery import deliver_due, http_sender, public_only
from ledger.clock import SystemClock
from ledger.config import Settings
from ledger.db import Database, create_database
from ledger.errors import LedgerError
from ledger.jobs.scheduler import build_scheduler


def _deliver(database: Database, settings: Settings) -> dict[str, int]:
    sender = http_sender if settings.webhook_allow_private_urls else public_only(http_sender)
    return deliver_due(
        database,
        now=SystemClock().now,
        sender=sender,
        lease=timedelta(seconds=settings.webhook_lease_seconds),
    )


def _worker(settings: Settings, _arguments: argparse.Namespace) -> int:
    database = create_database(settings=settings)
    scheduler = build_scheduler(
        database,
        settings,
        extra=[("webhooks", lambda: _deliver(database, settings), settings.webhook_poll_seconds)],
    )
    print(
        f"worker: business dates every {settings.scheduler_interval_seconds}s, "
        f"webhooks every {settings.webhook_poll_seconds}s",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    return 0


def _deliver_webhooks(settings: Settings, arguments: argparse.Namespace) -> int:
    database = create_database(settings=settings)
    while True:
        outcome = _deliver(database, settings)
        if arguments.once:
            print(
                f"delivered {outcome['delivered']}, to retry {outcome['pending']}, "
                f"failed {outcome['failed']}"
            )
            return 0
        time.sleep(settings.webhook_poll_seconds)


#: The Stripe SDK's transport (None: its default, over the network). Tests set a local one.
stripe_http_client: stripe.HTTPClient | None = None


def _reconcile_stripe(settings: Settings, arguments: argparse.Namespace) -> int:
    database = create_database(settings=settings)
    provider = StripeProvider(settings, http_client=stripe_http_client)
    now = SystemClock().now()
    payouts = list(arguments.payout or [])
    if arguments.since:
        since = datetime.combine(date.fromisoformat(arguments.since), datetime.min.time(), UTC)
        payouts += [p for p in provider.payouts_since(since) if p not in payouts]
    worst = 0
    for payout_id in payouts:
        report = provider.settlement_report(database, payout_id, now=now)
        print(json.dumps(report, indent=2, sort_keys=True))
        worst = max(worst, int(report["discrepancies"] > 0))
    print(f"reconciled {len(payouts)} payout(s)", file=sys.stderr)
    return worst


def _retry_stripe_events(settings: Settings, _arguments: argparse.Namespace) -> int:
    outcomes = StripeProvider(settings, http_client=stripe_http_client).retry_events(
        create_database(settings=settings), now=SystemClock().now()
    )
    for outcome in outcomes:
        detail = f" - {outcome.detail}" if outcome.detail else ""
        print(f"{outcome.event_id}: {outcome.status}{detail}")
    return int(any(o.status == "failed" for o in outcomes))


COMMANDS = {
    "worker": _worker,
    "deliver-webhooks": _deliver_webhooks,
    "reconcile-stripe": _reconcile_stripe,
    "retry-stripe-events": _retry_stripe_events,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledger-integrations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("worker")
    deliver = commands.add_parser("deliver-webhooks")
    deliver.add_argument("--once", action="store_true", help="one pass, then exit")
    reconcile = commands.add_parser("reconcile-stripe")
    which = reconcile.add_mutually_exclusive_group(required=True)
    which.add_argument("--payout", action="append", help="a payout id (po_...), repeatable")
    which.add_argument("--since", help="every payout created since this date (UTC)")
    commands.add_parser("retry-stripe-events")
    arguments = parser.parse_args(argv)
    try:
        return COMMANDS[arguments.command](Settings.from_environment(), arguments)
    except LedgerError as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
