"""Operator commands: ``ledger <command>``; DATABASE_URL selects the database.

ledger migrate        apply Alembic migrations up to head
ledger seal           hash-chain every posted transaction not yet sealed
ledger verify         recompute the hash chain; exit 1 naming the first problem
ledger expire-holds   void pending transactions past their expiry
ledger check          recompute balances and invariants from postings; exit 1 if any fail
ledger trial-balance  posted debits and credits per currency
ledger create-admin-key [--slug admin] [--name NAME] [--label LABEL]
                      issue an API key for an admin principal (created if missing);
                      the key is printed once and stored only as a hash
ledger purge-idempotency
                      delete idempotency records past their expiry
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy import Connection

from ledger.access import (
    IssuedKey,
    PrincipalRecord,
    create_principal,
    get_principal_by_slug,
    issue_key,
)
from ledger.access.idempotency import purge_expired
from ledger.clock import SystemClock
from ledger.config import Settings
from ledger.db import create_database
from ledger.errors import LedgerError, ValidationFailed
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


def _create_admin_key(settings: Settings, arguments: argparse.Namespace) -> int:
    database = create_database(settings=settings)
    now = SystemClock().now()

    def work(connection: Connection) -> tuple[PrincipalRecord, IssuedKey]:
        try:
            admin = get_principal_by_slug(connection, arguments.slug)
        except LedgerError:
            admin = create_principal(
                connection, slug=arguments.slug, name=arguments.name, role="admin", now=now
            )
        if admin.role != "admin":
            raise ValidationFailed(f"principal {arguments.slug!r} is a {admin.role}, not an admin")
        return admin, issue_key(connection, admin.id, label=arguments.label, now=now)

    try:
        admin, issued = database.run(work)
    except LedgerError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"admin {admin.slug} ({admin.id}): key {issued.record.id}", file=sys.stderr)
    print("the key below is shown once; store it now:", file=sys.stderr)
    print(issued.secret)
    return 0


def _purge_idempotency(settings: Settings) -> int:
    database = create_database(settings=settings)
    now = SystemClock().now()
    purged = database.run(lambda connection: purge_expired(connection, now=now))
    print(f"purged {purged} expired idempotency record(s)")
    return 0


COMMANDS = {
    "migrate": _migrate,
    "seal": _seal,
    "verify": _verify,
    "expire-holds": _expire,
    "check": _check,
    "trial-balance": _trial_balance,
    "purge-idempotency": _purge_idempotency,
}
#: Commands that take the parsed arguments as well.
COMMANDS_WITH_ARGUMENTS = {"create-admin-key": _create_admin_key}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledger", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=sorted({*COMMANDS, *COMMANDS_WITH_ARGUMENTS}))
    parser.add_argument("--slug", default="admin", help="create-admin-key: the admin's slug")
    parser.add_argument("--name", default="Administrator", help="create-admin-key: its name")
    parser.add_argument("--label", default="cli", help="create-admin-key: the key's label")
    arguments = parser.parse_args(argv)
    settings = Settings.from_environment()
    if arguments.command in COMMANDS_WITH_ARGUMENTS:
        return COMMANDS_WITH_ARGUMENTS[arguments.command](settings, arguments)
    return COMMANDS[arguments.command](settings)


if __name__ == "__main__":
    sys.exit(main())
