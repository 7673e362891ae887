"""The second provider: a plain bank transfer into the fund's own bank account.

* **Collection**: the payer is told which reference to quote; nothing is asked of
  any API. (A fund manager can also confirm a single amount by hand: the scheme's
  ``receive`` endpoint.)
* **Events**: the fund's bank statement, a CSV file a fund manager uploads
  (``date,reference,amount,currency,bank_reference``). Each line whose reference is
  an open collection of the scheme, with its exact amount and currency, is booked
  through the same path as Stripe's items (Dr cash, Cr capital: the money is already
  in the bank, so cash is the clearing account and there is no fee). Any other line
  is reported, never booked: an unknown reference, another amount, a line already
  booked from an earlier statement. A malformed file (a bad date, an amount with
  more decimals than its currency has) is refused whole, naming the line.
* **Settlement report**: a statement's lines and what became of each; the same file
  uploaded again is recognised (by its SHA-256) and changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, select

from integrations.providers.base import Collection, Outcome
from ledger.access.principals import PrincipalRecord
from ledger.credit.schemes import (
    get_contribution,
    get_scheme,
    require_manager,
)
from ledger.db import Database
from ledger.errors import LedgerError, NotFound, ValidationFailed
from ledger.events.outbox import money_data
from ledger.ids import uuid7
from ledger.money import to_minor, validate_currency
from ledger.payments.bookkeeping import ProviderItem, book_item, booked_items
from ledger.payments.collections import collectable, find_collection, open_collection
from ledger.payments.models import ReconciliationRun
from ledger.payments.provider_events import finish_event, store_event

NAME = "bank_transfer"
COLUMNS = ("date", "reference", "amount", "currency", "bank_reference")
LINES_MAX = 10_000
reconciliation_runs = ReconciliationRun.__table__


class StatementNotFound(NotFound):
    code = "statement_not_found"


def _external_id(scheme_id: uuid.UUID, reference: str) -> str:
    return f"{scheme_id}:{reference}"


def parse_statement(text: str) -> list[dict[str, Any]]:
    """The statement's lines, checked; the first bad one refuses the file."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or tuple(reader.fieldnames) != COLUMNS:
        raise ValidationFailed(f"a statement's header is {','.join(COLUMNS)}", field="statement")
    lines = []
    for number, row in enumerate(reader, start=2):
        if number - 1 > LINES_MAX:
            raise ValidationFailed(f"a statement has at most {LINES_MAX} lines", field="statement")
        try:
            if None in row or any(row[c] is None or not row[c].strip() for c in COLUMNS):
                raise ValidationFailed("every column has a value")
            currency = validate_currency(row["currency"].strip())
            lines.append(
                {
                    "line": number,
                    "date": date.fromisoformat(row["date"].strip()),
                    "reference": row["reference"].strip(),
                    "amount_minor": to_minor(row["amount"].strip(), currency),
                    "currency": currency,
                    "bank_reference": row["bank_reference"].strip(),
                }
            )
        except (LedgerError, ValueError) as error:
            message = error.message if isinstance(error, LedgerError) else str(error)
            raise ValidationFailed(f"line {number}: {message}", field="statement") from None
    return lines


class BankTransferProvider:
    name = NAME

    def available(self) -> bool:
        return True

    def create_collection(
        self,
        database: Database,
        principal: PrincipalRecord,
        scheme_id: uuid.UUID,
        contribution_id: uuid.UUID,
        *,
        now: datetime,
    ) -> Collection:
        def open_(connection: Connection) -> Collection:
            scheme, contribution, existing = collectable(
                connection, NAME, principal, scheme_id, contribution_id
            )
            record = existing or open_collection(
                connection,
                NAME,
                scheme,
                contribution,
                external_id=_external_id(scheme.id, contribution.reference),
                now=now,
            )
            return Collection(
                record,
                {
                    "pay_to": scheme.name,
                    "reference": contribution.reference,
                    "amount": money_data(contribution.amount_minor, scheme.currency),
                },
            )

        return database.run(open_)

    def handle(
        self,
        database: Database,
        body: bytes,
        context: Mapping[str, str],
        *,
        now: datetime,
        principal: PrincipalRecord | None = None,
    ) -> Outcome:
        """Book a statement of scheme ``context["scheme_id"]``, uploaded by its manager."""
        scheme_id = uuid.UUID(context["scheme_id"])
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed("a statement is UTF-8 text", field="statement") from None
        lines = parse_statement(text)
        digest = hashlib.sha256(body).hexdigest()

        def book(connection: Connection) -> Outcome:
            scheme = get_scheme(connection, scheme_id)
            if principal is None:
                raise ValidationFailed("a statement is uploaded by a fund manager")
            require_manager(scheme, principal)
            stored = store_event(
                connection,
                NAME,
                external_id=f"{scheme.id}:{digest}",
                type="statement",
                payload={"scheme_id": str(scheme.id), "sha256": digest, "lines": len(lines)},
                now=now,
            )
            if stored.done:
                return Outcome("duplicate", stored.external_id)
            results, booked = [], 0
            for line in lines:
                item_id = _external_id(scheme.id, line["bank_reference"])
                collection = find_collection(
                    connection, NAME, _external_id(scheme.id, line["reference"]), lock=True
                )
                money = money_data(line["amount_minor"], line["currency"])
                result = {"line": line["line"], "reference": line["reference"], "amount": money}
                if booked_items(connection, NAME, [item_id]):
                    result["outcome"] = "already_booked"
                elif collection is None:
                    result["outcome"] = "unknown_reference"
                elif (line["amount_minor"], line["currency"]) != (
                    collection.amount_minor,
                    collection.currency,
                ):
                    result["outcome"] = "amount_differs"
                    result["expected"] = money_data(collection.amount_minor, collection.currency)
                elif collection.status != "open" or (
                    get_contribution(connection, scheme.id, collection.contribution_id).status
                    != "pledged"
                ):
                    # Received another way (confirmed by hand, paid by card) meanwhile.
                    result["outcome"] = "already_received"
                else:
                    arrived = datetime.combine(line["date"], time(), UTC)
                    item = ProviderItem(
                        external_id=item_id,
                        kind="charge",
                        source_id=line["bank_reference"],
                        amount_minor=line["amount_minor"],
                        fee_minor=0,
                        currency=line["currency"],
                        available_on=arrived,
                        created_at=arrived,
                    )
                    book_item(connection, collection, item, now=now)
                    result["outcome"] = "booked"
                    booked += 1
                results.append(result)
            unbooked = sum(r["outcome"] != "booked" for r in results)
            report = {
                "statement": stored.external_id,
                "scheme_id": str(scheme.id),
                "lines": results,
                "booked": booked,
                "discrepancies": unbooked,
            }
            connection.execute(
                reconciliation_runs.insert().values(
                    id=uuid7(),
                    provider=NAME,
                    payout_external_id=stored.external_id,
                    discrepancies=unbooked,
                    report=report,
                    ran_at=now,
                )
            )
            finish_event(connection, stored.id, status="processed", now=now)
            return Outcome("processed", stored.external_id, booked=booked, extra=report)

        return database.run(book)

    def settlement_report(
        self, database: Database, settlement_id: str, *, now: datetime
    ) -> dict[str, Any]:
        def read(connection: Connection) -> dict[str, Any]:
            row = connection.execute(
                select(reconciliation_runs.c.report)
                .where(
                    reconciliation_runs.c.provider == NAME,
                    reconciliation_runs.c.payout_external_id == settlement_id,
                )
                .order_by(reconciliation_runs.c.ran_at.desc())
                .limit(1)
            ).first()
            if row is None:
                raise StatementNotFound(f"no statement {settlement_id}")
            return dict(row.report)

        return database.run(read)
