"""Bulk import of completed remittances from a CSV file, for partners that cannot call
the API per remittance.

The file (UTF-8, comma-separated, header first) has these columns, in any order:

    partner_reference   unique per partner: the row's identity
    corridor            RU-RUB-TJ-TJS
    sender_name, sender_country
    beneficiary_external_id   your customer's external_id (or beneficiary_customer_id)
    send_amount, fee    decimal strings in the send currency ("10000.00", "150.00")
    rate                the applied rate (1 send unit = rate receive units)
    receive_amount      optional; if given it must follow from send_amount and rate
    completed_at        ISO 8601 with a zone ("2026-11-02T10:15:00+03:00"), not later than now

Each row is checked and priced exactly as ``POST /v1/remittances`` with an explicit
fee and rate (``ledger.remittance.remittances.prepare``), then posted as a completed
remittance. Rows are written in chunks of ``IMPORT_CHUNK_ROWS``, one unit of work each
(one journal batch); a bad row is rejected with its line number and reason and the
rest of its chunk still goes in. The file is idempotent by row: a reference already
imported with the same content counts as a duplicate and changes nothing; with other
content it is rejected (``remittance_exists``). An import cut off half-way is finished
by importing the same file again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ledger.access.principals import PrincipalRecord
from ledger.db import Database, refresh_statistics
from ledger.errors import (
    ImportNotFound,
    LedgerError,
    LimitExceeded,
    RemittanceExists,
    ValidationFailed,
)
from ledger.ids import uuid7
from ledger.limits import (
    IMPORT_CHUNK_ROWS,
    IMPORT_REPORT_REJECTIONS_MAX,
    IMPORT_ROWS_MAX,
)
from ledger.money import to_minor
from ledger.remittance.models import RemittanceImport
from ledger.remittance.policy import RemittancePolicy
from ledger.remittance.preparation import Lookups, Prepared, prepare
from ledger.remittance.rates import parse_mid_rate
from ledger.remittance.records import RemittanceRequest
from ledger.remittance.remittances import record_completed

imports_table = RemittanceImport.__table__

#: The tables an import grows, and how often their statistics are refreshed (in
#: chunks): every 20 chunks is every 20,000 rows, about 1% of the import's time.
GROWING_TABLES = ("remittances", "transactions", "postings", "accounts", "partner_accounts")
IMPORT_ANALYZE_EVERY_CHUNKS = 20

REQUIRED_COLUMNS = (
    "partner_reference",
    "corridor",
    "sender_name",
    "sender_country",
    "send_amount",
    "fee",
    "rate",
    "completed_at",
)
BENEFICIARY_COLUMNS = ("beneficiary_external_id", "beneficiary_customer_id")
OPTIONAL_COLUMNS = ("receive_amount",)


class ImportFileInvalid(ValidationFailed):
    """The file as a whole cannot be read (header, encoding, size)."""

    code = "invalid_import_file"


class CompletedInFuture(ValidationFailed):
    code = "completed_in_future"


@dataclass(frozen=True)
class Rejection:
    line: int
    partner_reference: str | None
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "partner_reference": self.partner_reference,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class ImportReport:
    id: uuid.UUID
    partner_id: uuid.UUID
    filename: str
    file_sha256: str
    created_at: datetime
    rows_total: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def stored_report(self) -> dict[str, Any]:
        return {
            "rejections": [r.as_dict() for r in self.rejections[:IMPORT_REPORT_REJECTIONS_MAX]],
            "rejections_truncated": self.rejected > IMPORT_REPORT_REJECTIONS_MAX,
        }


@dataclass(frozen=True)
class ParsedRow:
    line: int
    request: RemittanceRequest | None  # None: beneficiary given by external id, resolved later
    external_id: str | None
    fields: dict[str, Any]


def _field(row: dict[str, str | None], name: str) -> str:
    value = row.get(name)
    if value is None or not value.strip():
        raise ValidationFailed(f"{name} is missing", field=name)
    return value.strip()


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            f"completed_at {text!r} is not an ISO 8601 timestamp", field="completed_at"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationFailed("completed_at needs a time zone", field="completed_at")
    # Business dates are UTC dates: one instant, one mid-rate day, one fingerprint.
    return moment.astimezone(UTC)


def parse_row(
    row: dict[str, str | None], corridor_currencies: Callable[[str], tuple[str, str]]
) -> tuple[dict[str, Any], str | None, uuid.UUID | None]:
    """The request fields of one row (amounts in minor units), and how the
    beneficiary is named. Raises a LedgerError for a bad row."""
    if None in row:  # more fields than the header
        raise ValidationFailed("the line has more fields than the header")
    reference = _field(row, "partner_reference")
    corridor = _field(row, "corridor")
    send_currency, receive_currency = corridor_currencies(corridor)
    external_id = (row.get("beneficiary_external_id") or "").strip() or None
    customer_text = (row.get("beneficiary_customer_id") or "").strip() or None
    if (external_id is None) == (customer_text is None):
        raise ValidationFailed(
            "give the beneficiary's external id or customer id (one of them)",
            field="beneficiary_external_id",
        )
    customer_id = None
    if customer_text is not None:
        try:
            customer_id = uuid.UUID(customer_text)
        except ValueError:
            raise ValidationFailed(
                f"{customer_text!r} is not a customer id", field="beneficiary_customer_id"
            ) from None
    receive_text = (row.get("receive_amount") or "").strip()
    fields = {
        "partner_reference": reference,
        "corridor_code": corridor,
        "sender_name": _field(row, "sender_name"),
        "sender_country": _field(row, "sender_country"),
        "send": (to_minor(_field(row, "send_amount"), send_currency), send_currency),
        "fee": (to_minor(_field(row, "fee"), send_currency), send_currency),
        "applied_rate": parse_mid_rate(_field(row, "rate"), "rate"),
        "receive": (
            (to_minor(receive_text, receive_currency), receive_currency) if receive_text else None
        ),
        "effective_at": _timestamp(_field(row, "completed_at")),
    }
    return fields, external_id, customer_id


def read_header(reader: csv.DictReader) -> None:  # type: ignore[type-arg]
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [
        name
        for name in header
        if name not in REQUIRED_COLUMNS + BENEFICIARY_COLUMNS + OPTIONAL_COLUMNS
    ]
    if missing or unknown or not any(name in header for name in BENEFICIARY_COLUMNS):
        raise ImportFileInvalid(
            "the header must name the columns "
            f"{', '.join(REQUIRED_COLUMNS)}, one of {' or '.join(BENEFICIARY_COLUMNS)}, "
            f"and optionally {', '.join(OPTIONAL_COLUMNS)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
        )
    if len(set(header)) != len(header):
        raise ImportFileInvalid("a column is named twice in the header")
    reader.fieldnames = header


def _chunks(rows: Iterator[tuple[int, dict[str, str | None]]]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) == IMPORT_CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_remittances(
    database: Database,
    partner: PrincipalRecord,
    lines: Iterable[str],
    *,
    filename: str,
    now: datetime,
    policy: RemittancePolicy,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV file of completed remittances (see the module docstring).

    ``lines`` is the file's text, line by line (an open text file will do): it is
    read once, chunk by chunk, so a large file is never held in memory.
    """
    digest = hashlib.sha256()

    def hashed(source: Iterable[str]) -> Iterator[str]:
        for text in source:
            digest.update(text.encode())
            yield text

    reader = csv.DictReader(hashed(lines))
    read_header(reader)
    report = ImportReport(uuid7(), partner.id, filename[:200], "", now)
    database.run(lambda c: _insert_import(c, report))
    seen: dict[str, str] = {}  # reference -> fingerprint, across the whole file
    unreadable: list[Rejection] = []
    try:
        for number, chunk in enumerate(_chunks(_readable_rows(reader, unreadable))):
            if number % IMPORT_ANALYZE_EVERY_CHUNKS == 0:
                database.run(lambda c: refresh_statistics(c, GROWING_TABLES))
            if report.rows_total + len(chunk) > IMPORT_ROWS_MAX:
                raise LimitExceeded(
                    f"an import holds at most {IMPORT_ROWS_MAX} rows; the rows before line "
                    f"{chunk[0][0]} were imported, split the rest into another file"
                )
            late, unreadable[:] = list(unreadable), []
            outcome = database.run(
                lambda c, rows=chunk, late=late: _import_chunk(
                    c, partner, rows, report, seen, now, policy, late
                )
            )
            accepted, duplicates, rejections, fingerprints = outcome
            seen.update(fingerprints)
            report.rows_total += len(chunk) + len(late)
            report.accepted += accepted
            report.duplicates += duplicates
            report.rejections.extend(rejections)
            if on_progress is not None:
                on_progress(report.rows_total)
        report.rows_total += len(unreadable)
        report.rejections.extend(unreadable)
        report.rejections.sort(key=lambda r: r.line)
        report.file_sha256 = digest.hexdigest()
        database.run(lambda c: _write_counts(c, report, state="done"))
    except BaseException as error:
        # What was committed stays (the file is idempotent by row: import it again);
        # the record says how far it got and why it stopped.
        reason = error.message if isinstance(error, LedgerError) else type(error).__name__
        database.run(lambda c: _write_counts(c, report, state="failed", reason=reason))
        raise
    return report


def _readable_rows(
    reader: csv.DictReader,
    unreadable: list[Rejection],  # type: ignore[type-arg]
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """The file's rows with their line numbers; a line the CSV reader cannot read (an
    unclosed quote, an oversized field) becomes a rejection, and reading goes on."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # The reader counts a line once it has read it whole: the bad one is next.
            line = reader.line_num + 1
            unreadable.append(Rejection(line, None, "unreadable_line", str(error)))
            continue
        yield reader.line_num, row


def _insert_import(connection: Connection, report: ImportReport) -> None:
    connection.execute(
        insert(imports_table).values(
            id=report.id,
            partner_id=report.partner_id,
            filename=report.filename,
            file_sha256="",
            rows_total=0,
            accepted=0,
            duplicates=0,
            rejected=0,
            report={"state": "running"},
            created_at=report.created_at,
        )
    )


def _write_counts(
    connection: Connection, report: ImportReport, *, state: str, reason: str | None = None
) -> None:
    stored = {**report.stored_report(), "state": state}
    if reason is not None:
        stored["stopped_because"] = reason
    connection.execute(
        update(imports_table)
        .where(imports_table.c.id == report.id)
        .values(
            file_sha256=report.file_sha256,
            rows_total=report.rows_total,
            accepted=report.accepted,
            duplicates=report.duplicates,
            rejected=report.rejected,
            report=stored,
        )
    )


def _import_chunk(
    connection: Connection,
    partner: PrincipalRecord,
    rows: list[tuple[int, dict[str, str | None]]],
    report: ImportReport,
    seen: dict[str, str],
    now: datetime,
    policy: RemittancePolicy,
    unreadable: list[Rejection],
) -> tuple[int, int, list[Rejection], dict[str, str]]:
    lookups = Lookups(connection, partner, now=now, policy=policy)
    rejections: list[Rejection] = []
    parsed: list[tuple[int, dict[str, Any], str | None, uuid.UUID | None]] = []

    def currencies(code: str) -> tuple[str, str]:
        corridor = lookups.corridor(code)
        return corridor.send_currency, corridor.receive_currency

    for line, row in rows:
        try:
            fields, external_id, customer_id = parse_row(row, currencies)
        except LedgerError as error:
            reference = (row.get("partner_reference") or "").strip() or None
            rejections.append(Rejection(line, reference, error.code, error.message))
            continue
        parsed.append((line, fields, external_id, customer_id))
    lookups.prefetch(
        references=[fields["partner_reference"] for _, fields, _, _ in parsed],
        customer_ids=[cid for _, _, _, cid in parsed if cid is not None],
        external_ids=[eid for _, _, eid, _ in parsed if eid is not None],
        currencies={currencies(fields["corridor_code"])[1] for _, fields, _, _ in parsed},
    )
    ready: list[Prepared] = []
    lines: list[int] = []
    duplicates = 0
    fingerprints: dict[str, str] = {}
    for line, fields, external_id, customer_id in parsed:
        reference = fields["partner_reference"]
        try:
            if fields["effective_at"] > now:
                raise CompletedInFuture(
                    f"completed_at {fields['effective_at'].isoformat()} is later than now",
                    field="completed_at",
                )
            if customer_id is None:
                assert external_id is not None
                customer_id = lookups.customer_by_external_id(external_id).id
            request = RemittanceRequest(beneficiary_customer_id=customer_id, **fields)
            fingerprint = request.fingerprint()
            earlier = seen.get(reference) or fingerprints.get(reference)
            existing = lookups.existing(reference)
            if existing is not None:
                earlier = existing.request_hash
            if earlier is not None:
                if earlier != fingerprint:
                    raise _exists(reference)
                duplicates += 1
                continue
            prepared = prepare(lookups, request, fingerprint=fingerprint)
        except LedgerError as error:
            rejections.append(Rejection(line, reference, error.code, error.message))
            continue
        fingerprints[reference] = fingerprint
        ready.append(prepared)
        lines.append(line)
    written = record_completed(lookups, ready, import_id=report.id)
    for index, error in written.rejected.items():
        reference = ready[index].request.partner_reference
        rejections.append(Rejection(lines[index], reference, error.code, error.message))
        fingerprints.pop(reference, None)
    rejections.extend(unreadable)
    rejections.sort(key=lambda r: r.line)
    # The import's counts move with the rows they count (same unit of work).
    running = ImportReport(
        report.id,
        report.partner_id,
        report.filename,
        "",
        report.created_at,
        rows_total=report.rows_total + len(rows) + len(unreadable),
        accepted=report.accepted + len(written.records),
        duplicates=report.duplicates + duplicates,
        rejections=[*report.rejections, *rejections],
    )
    _write_counts(connection, running, state="running")
    return len(written.records), duplicates, rejections, fingerprints


def _exists(reference: str) -> LedgerError:
    return RemittanceExists(
        f"partner_reference {reference!r} was imported with other content",
        partner_reference=reference,
    )


def get_import(
    connection: Connection, partner_id: uuid.UUID, import_id: uuid.UUID
) -> dict[str, Any]:
    row = connection.execute(
        select(imports_table).where(
            imports_table.c.id == import_id, imports_table.c.partner_id == partner_id
        )
    ).first()
    if row is None:
        raise ImportNotFound(f"import {import_id} does not exist", import_id=str(import_id))
    return dict(row._mapping)


def text_lines(data: bytes) -> Iterator[str]:
    """An uploaded file's lines (UTF-8, a byte-order mark tolerated)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileInvalid("the file is not UTF-8 text") from None
    return iter(io.StringIO(text, newline=""))
