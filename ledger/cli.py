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
ledger import-rates FILE.csv
                      load reference mid-rates (header date,source,base,quote,mid_rate);
                      all or nothing, every bad line named
ledger import-remittances --partner SLUG FILE.csv [--rejections OUT.csv]
                      import a partner's completed remittances with a progress bar;
                      rejected rows (line, reference, code, message) to OUT.csv
ledger expire-remittances
                      void remittance reservations past their expiry, and drop expired
                      quotes no remittance used (older than a day)
ledger run-jobs [--date YYYY-MM-DD]
                      the scheduler's jobs for one business date, or for every ended
                      date not yet run (each job and date runs once, ever)
ledger simulate --from YYYY-MM-DD --to YYYY-MM-DD
                      the jobs over a range of dates, the business clock moved day by
                      day, with a progress bar
ledger scheduler      run the scheduler (APScheduler) in the foreground
ledger job-runs [--since YYYY-MM-DD]
                      the run records: job, date, status, attempts, result or error
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

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
from ledger.jobs.daily import catch_up, run_day
from ledger.jobs.runs import RunOutcome, list_runs
from ledger.jobs.scheduler import build_scheduler
from ledger.jobs.simulation import SimulationStopped, simulate
from ledger.journal import check_invariants, expire_holds, seal_all, trial_balance, verify_chain
from ledger.limits import EXPIRY_BATCH_SIZE, REMITTANCE_EXPIRY_BATCH_SIZE
from ledger.migrations import upgrade
from ledger.money import format_minor
from ledger.remittance.imports import import_remittances
from ledger.remittance.policy import RemittancePolicy
from ledger.remittance.quotes import purge_expired_quotes
from ledger.remittance.rates import load_rates, parse_rates_csv
from ledger.remittance.remittances import expire_remittances


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
    # Remittance reservations first: their rows change with their holds.
    _expire_remittances(settings)
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


def _import_rates(settings: Settings, arguments: argparse.Namespace) -> int:
    database = create_database(settings=settings)
    try:
        with open(arguments.file, encoding="utf-8-sig", newline="") as file:
            rates = parse_rates_csv(file.read())
        result = database.run(lambda c: load_rates(c, rates, now=SystemClock().now()))
    except LedgerError as error:
        print(f"error: {error.message}", file=sys.stderr)
        for line in error.details.get("errors", []):
            print(f"  line {line['line']}: {line['code']}: {line['message']}", file=sys.stderr)
        return 1
    print(f"loaded {result.inserted} rate(s); {result.unchanged} already there unchanged")
    return 0


class ProgressBar:
    """Rows done out of the file's rows, on stderr: redrawn in place on a terminal,
    a line per tenth otherwise (logs stay readable)."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO | None = None, *, unit: str = "rows") -> None:
        self.total, self.stream = max(total, 1), stream or sys.stderr
        self.unit = unit
        self.started = time.monotonic()
        self.interactive = self.stream.isatty()
        self.shown_tenths = -1

    def __call__(self, done: int) -> None:
        share = min(done / self.total, 1.0)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        text = (
            f"[{'#' * int(share * self.WIDTH):<{self.WIDTH}}] {done:,} / {self.total:,} "
            f"{self.unit} ({done / elapsed:,.1f} {self.unit}/s)"
        )
        if self.interactive:
            self.stream.write("\r" + text)
            if done >= self.total:
                self.stream.write("\n")
        elif int(share * 10) > self.shown_tenths:
            self.shown_tenths = int(share * 10)
            self.stream.write(text + "\n")
        self.stream.flush()


def _import_remittances(settings: Settings, arguments: argparse.Namespace) -> int:
    database = create_database(settings=settings)
    policy = RemittancePolicy.from_settings(settings)
    try:
        partner = database.run(lambda c: get_principal_by_slug(c, arguments.partner))
        if partner.role != "partner":
            raise ValidationFailed(f"{arguments.partner!r} is a {partner.role}, not a partner")
        with open(arguments.file, encoding="utf-8-sig", newline="") as file:
            rows = max(sum(1 for _ in file) - 1, 0)
        with open(arguments.file, encoding="utf-8-sig", newline="") as file:
            report = import_remittances(
                database,
                partner,
                file,
                filename=Path(arguments.file).name,
                now=SystemClock().now(),
                policy=policy,
                on_progress=ProgressBar(rows),
            )
    except LedgerError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(
        f"import {report.id}: {report.rows_total} row(s): {report.accepted} accepted, "
        f"{report.duplicates} already imported, {report.rejected} rejected"
    )
    if arguments.rejections and report.rejections:
        with open(arguments.rejections, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "partner_reference", "code", "message"])
            for rejection in report.rejections:
                writer.writerow(
                    [rejection.line, rejection.partner_reference, rejection.code, rejection.message]
                )
        print(f"rejected rows written to {arguments.rejections}")
    else:
        for rejection in report.rejections[:20]:
            print(
                f"  line {rejection.line} ({rejection.partner_reference}): "
                f"{rejection.code}: {rejection.message}",
                file=sys.stderr,
            )
        if report.rejected > 20:
            print(f"  ... {report.rejected - 20} more (--rejections FILE)", file=sys.stderr)
    return 0 if report.rejected == 0 else 2


def _expire_remittances(settings: Settings) -> int:
    database = create_database(settings=settings)
    now = SystemClock().now()
    total = 0
    while True:
        expired = database.run(lambda c: expire_remittances(c, now=now))
        total += len(expired)
        if len(expired) < REMITTANCE_EXPIRY_BATCH_SIZE:
            break
    dropped = database.run(lambda c: purge_expired_quotes(c, now=now, older_than=timedelta(days=1)))
    print(f"expired {total} remittance reservation(s); dropped {dropped} stale quote(s)")
    return 0


def _print_outcomes(outcomes: Sequence[RunOutcome]) -> int:
    for outcome in outcomes:
        detail = outcome.error if outcome.status == "failed" else json.dumps(outcome.result)
        print(f"{outcome.business_date}  {outcome.job:<14} {outcome.status:<9} {detail}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _run_jobs(settings: Settings, arguments: argparse.Namespace) -> int:
    """One date's jobs (``--date``), or every date due up to yesterday."""
    database = create_database(settings=settings)
    if arguments.date:
        day = date.fromisoformat(arguments.date)
        return _print_outcomes(run_day(database, day, now=SystemClock().now(), settings=settings))
    outcomes = catch_up(database, now=SystemClock().now, settings=settings)
    if not outcomes:
        print("nothing due: every ended business date has run")
    return _print_outcomes(outcomes)


def _simulate(settings: Settings, arguments: argparse.Namespace) -> int:
    """The jobs over a range of dates with the business clock moved day by day."""
    start, end = date.fromisoformat(arguments.start), date.fromisoformat(arguments.end)
    database = create_database(settings=settings)
    bar = ProgressBar((end - start).days + 1, unit="days")
    try:
        outcomes = simulate(database, start, end, settings=settings, progress=bar)
    except SimulationStopped as stopped:
        print(f"simulation stopped: {stopped.message}", file=sys.stderr)
        return 1
    done = sum(1 for o in outcomes if o.status == "succeeded")
    print(f"simulated {start} to {end}: {done} job run(s), {len(outcomes) - done} already done")
    return 0


def _scheduler(settings: Settings) -> int:
    """Run the scheduler in the foreground until interrupted."""
    database = create_database(settings=settings)
    scheduler = build_scheduler(database, settings)
    print(
        f"scheduler: looking for business dates every {settings.scheduler_interval_seconds}s",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    return 0


def _job_runs(settings: Settings, arguments: argparse.Namespace) -> int:
    database = create_database(settings=settings)
    since = date.fromisoformat(arguments.since) if arguments.since else None
    for run in database.run(lambda c: list_runs(c, since=since)):
        detail = run.error or json.dumps(run.result)
        print(
            f"{run.business_date}  {run.job:<14} {run.status:<9} attempts {run.attempts}  {detail}"
        )
    return 0


COMMANDS = {
    "migrate": _migrate,
    "seal": _seal,
    "verify": _verify,
    "expire-holds": _expire,
    "check": _check,
    "trial-balance": _trial_balance,
    "purge-idempotency": _purge_idempotency,
    "expire-remittances": _expire_remittances,
    "scheduler": _scheduler,
}
#: Commands that take the parsed arguments as well.
COMMANDS_WITH_ARGUMENTS = {
    "create-admin-key": _create_admin_key,
    "import-rates": _import_rates,
    "import-remittances": _import_remittances,
    "run-jobs": _run_jobs,
    "simulate": _simulate,
    "job-runs": _job_runs,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledger", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name in sorted(COMMANDS):
        commands.add_parser(name)
    admin_key = commands.add_parser("create-admin-key")
    admin_key.add_argument("--slug", default="admin", help="the admin's slug")
    admin_key.add_argument("--name", default="Administrator", help="its name, if created")
    admin_key.add_argument("--label", default="cli", help="the key's label")
    rates = commands.add_parser("import-rates")
    rates.add_argument("file", help="CSV: date,source,base,quote,mid_rate")
    remittances = commands.add_parser("import-remittances")
    remittances.add_argument("--partner", required=True, help="the partner's slug")
    remittances.add_argument("file", help="CSV of completed remittances (see README)")
    remittances.add_argument("--rejections", help="write rejected rows to this CSV file")
    jobs = commands.add_parser("run-jobs")
    jobs.add_argument("--date", help="one business date (YYYY-MM-DD); default: all due")
    simulation = commands.add_parser("simulate")
    simulation.add_argument("--from", dest="start", required=True, help="first date")
    simulation.add_argument("--to", dest="end", required=True, help="last date, inclusive")
    runs = commands.add_parser("job-runs")
    runs.add_argument("--since", help="from this business date (YYYY-MM-DD)")
    arguments = parser.parse_args(argv)
    settings = Settings.from_environment()
    if arguments.command in COMMANDS_WITH_ARGUMENTS:
        return COMMANDS_WITH_ARGUMENTS[arguments.command](settings, arguments)
    return COMMANDS[arguments.command](settings)


if __name__ == "__main__":
    sys.exit(main())
