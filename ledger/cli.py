"""Operator commands: ``ledger <command>``; DATABASE_URL selects the database.

ledger migrate        apply Alembic migrations up to head
ledger seal           hash-chain every posted transaction not yet sealed
ledger verify         recompute the hash chain; exit 1 naming the first problem
ledger expire-holds   void pending transactions past their expiry
ledger check          recompute balances and invariants from postings; exit 1 if any fail
ledger trial-balance  posted debits and credits per currency
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ledger.clock import SystemClock
from ledger.config import Settings
from ledger.db import create_database
from ledger.journal import check_invariants, expire_holds, seal_all, trial_balance, verify_chain
from ledger.limits import EXPIRY_BATCH_SIZE
from ledger.migrations import upgrade
from ledger.money import format_minor


def _migrate(settings: Settings) -> int:
    upgrade(settings.database_url)
    print("migrations applied")
    return 0


def _seal(settings: Settings) -> int:
    database = create_database(settings=settings)
    sealed = seal_all(database, now=SystemClock().now())
    print(f"sealed {sealed} transaction(s)")
    return 0


def _verify(settings: Settings) -> int:
    database = create_database(settings=settings)
    result = database.run(verify_chain)
    if result.ok:
        print(f"chain intact: {result.links_checked} link(s) verified")
        return 0
    print(
        f"chain problem: {result.problem} at sequence {result.sequence}, "
        f"transaction {result.transaction_id}: {result.detail}",
        file=sys.stderr,
    )
    return 1


def _expire(settings: Settings) -> int:
    database = create_database(settings=settings)
    now = SystemClock().now()
    total = 0
    while True:
        voided = database.run(lambda session: expire_holds(session, now))
        total += len(voided)
        if len(voided) < EXPIRY_BATCH_SIZE:
            break
    print(f"voided {total} expired hold(s)")
    return 0


def _check(settings: Settings) -> int:
    database = create_database(settings=settings)
    problems = database.run(check_invariants)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print("journal invariants hold")
    return 0


def _trial_balance(settings: Settings) -> int:
    database = create_database(settings=settings)
    for line in database.run(trial_balance):
        status = "balanced" if line.balanced else "UNBALANCED"
        print(
            f"{line.currency}  debits {format_minor(line.debits_minor, line.currency):>24}  "
            f"credits {format_minor(line.credits_minor, line.currency):>24}  {status}"
        )
    return 0


COMMANDS = {
    "migrate": _migrate,
    "seal": _seal,
    "verify": _verify,
    "expire-holds": _expire,
    "check": _check,
    "trial-balance": _trial_balance,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledger", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=sorted(COMMANDS))
    arguments = parser.parse_args(argv)
    return COMMANDS[arguments.command](Settings.from_environment())


if __name__ == "__main__":
    sys.exit(main())
