"""Commands of the integrations: ``ledger-integrations <command>``.

ledger-integrations worker
                      the scheduler's daily jobs and the webhook delivery, in one
                      process (APScheduler); what scripts/run starts
ledger-integrations deliver-webhooks [--once]
                      deliver what the outbox has due (--once: one pass, then exit)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence

from integrations.webhooks.delivery import deliver_due, http_sender, public_only
from ledger.clock import SystemClock
from ledger.config import Settings
from ledger.db import Database, create_database
from ledger.jobs.scheduler import build_scheduler


def _deliver(database: Database, settings: Settings) -> dict[str, int]:
    sender = http_sender if settings.webhook_allow_private_urls else public_only(http_sender)
    return deliver_due(database, now=SystemClock().now, sender=sender)


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


COMMANDS = {"worker": _worker, "deliver-webhooks": _deliver_webhooks}


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
    arguments = parser.parse_args(argv)
    return COMMANDS[arguments.command](Settings.from_environment(), arguments)


if __name__ == "__main__":
    sys.exit(main())
