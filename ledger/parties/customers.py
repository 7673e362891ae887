"""Customers of a partner: migrants, entrepreneurs, diaspora investors, sponsors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ids import uuid7
from ledger.journal.validation import require_text
from ledger.limits import EXTERNAL_ID_LENGTH_MAX, FULL_NAME_LENGTH_MAX, PAGE_SIZE_MAX
from ledger.parties.countries import COUNTRY_CODES
from ledger.parties.models import CUSTOMER_KINDS, Customer

customers = Customer.__table__

register_race_constraint(
    RaceConstraint(
        "uq_customers_partner_id_external_id", "customers", ("partner_id", "external_id")
    )
)


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class CustomerExists(Conflict):
    code = "customer_exists"


@dataclass(frozen=True)
class CustomerRecord:
    id: uuid.UUID
    partner_id: uuid.UUID
    external_id: str
    full_name: str
    country: str
    kind: str
    created_at: datetime


def customer_record(row: Any) -> CustomerRecord:
    return CustomerRecord(
        row.id,
        row.partner_id,
        row.external_id,
        row.full_name,
        row.country,
        row.kind,
        row.created_at,
    )


def create_customer(
    connection: Connection,
    partner_id: uuid.UUID,
    *,
    external_id: str,
    full_name: str,
    country: str,
    kind: str,
    now: datetime,
) -> CustomerRecord:
    require_text(external_id, "external_id", EXTERNAL_ID_LENGTH_MAX)
    require_text(full_name, "full_name", FULL_NAME_LENGTH_MAX)
    if country not in COUNTRY_CODES:
        raise ValidationFailed(
            f"country {country!r} is not an ISO 3166-1 alpha-2 code", field="country"
        )
    if kind not in CUSTOMER_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(CUSTOMER_KINDS)}", field="kind")
    existing = connection.execute(
        select(customers.c.id).where(
            customers.c.partner_id == partner_id, customers.c.external_id == external_id
        )
    ).first()
    if existing is not None:
        raise CustomerExists(
            f"a customer with external_id {external_id!r} exists",
            customer_id=str(existing.id),
        )
    values = {
        "id": uuid7(),
        "partner_id": partner_id,
        "external_id": external_id,
        "full_name": full_name,
        "country": country,
        "kind": kind,
        "created_at": now,
    }
    connection.execute(insert(customers).values(**values))
    return CustomerRecord(**values)


def get_customer(
    connection: Connection, partner_id: uuid.UUID, customer_id: uuid.UUID
) -> CustomerRecord:
    row = connection.execute(
        select(customers).where(customers.c.id == customer_id, customers.c.partner_id == partner_id)
    ).first()
    if row is None:
        raise CustomerNotFound(f"customer {customer_id} does not exist")
    return customer_record(row)


def list_customers(
    connection: Connection,
    partner_id: uuid.UUID,
    *,
    kind: str | None = None,
    country: str | None = None,
    external_id: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int,
    starting_after: uuid.UUID | None = None,
) -> tuple[list[CustomerRecord], bool]:
    """Newest first; ``limit`` rows and whether there are more."""
    assert 1 <= limit <= PAGE_SIZE_MAX
    query = (
        select(customers)
        .where(customers.c.partner_id == partner_id)
        .order_by(customers.c.id.desc())
        .limit(limit + 1)
    )
    for column, value in (
        (customers.c.kind, kind),
        (customers.c.country, country),
        (customers.c.external_id, external_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if created_from is not None:
        query = query.where(customers.c.created_at >= created_from)
    if created_to is not None:
        query = query.where(customers.c.created_at < created_to)
    if starting_after is not None:
        query = query.where(customers.c.id < starting_after)
    rows = connection.execute(query).all()
    return [customer_record(row) for row in rows[:limit]], len(rows) > limit
