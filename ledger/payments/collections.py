"""Collections: a contribution being paid through a provider, one per contribution
and provider, keyed by the provider's id for it (a Stripe PaymentIntent's id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ledger.access.principals import PrincipalRecord
from ledger.credit.schemes import (
    ContributionNotPledged,
    ContributionRecord,
    SchemeRecord,
    get_contribution,
    get_scheme,
    require_manager,
)
from ledger.db import RaceConstraint, register_race_constraint
from ledger.ids import uuid7
from ledger.payments.models import PaymentCollection

collections = PaymentCollection.__table__

for _name, _columns in (
    ("uq_payment_collections_provider_contribution_id", ("provider", "contribution_id")),
    ("uq_payment_collections_provider_external_id", ("provider", "external_id")),
):
    register_race_constraint(RaceConstraint(_name, "payment_collections", _columns))


@dataclass(frozen=True)
class CollectionRecord:
    id: uuid.UUID
    provider: str
    scheme_id: uuid.UUID
    contribution_id: uuid.UUID
    external_id: str
    amount_minor: int
    currency: str
    status: str
    created_at: datetime
    succeeded_at: datetime | None


def _record(row: Any) -> CollectionRecord:
    return CollectionRecord(
        **{name: getattr(row, name) for name in CollectionRecord.__dataclass_fields__}
    )


def collection_of(
    connection: Connection, provider: str, contribution_id: uuid.UUID
) -> CollectionRecord | None:
    row = connection.execute(
        select(collections).where(
            collections.c.provider == provider, collections.c.contribution_id == contribution_id
        )
    ).first()
    return _record(row) if row is not None else None


def find_collection(
    connection: Connection, provider: str, external_id: str, *, lock: bool = False
) -> CollectionRecord | None:
    query = select(collections).where(
        collections.c.provider == provider, collections.c.external_id == external_id
    )
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return _record(row) if row is not None else None


def collectable(
    connection: Connection,
    provider: str,
    principal: PrincipalRecord,
    scheme_id: uuid.UUID,
    contribution_id: uuid.UUID,
) -> tuple[SchemeRecord, ContributionRecord, CollectionRecord | None]:
    """What a provider needs to collect a contribution: the scheme (``principal``
    manages it), the contribution, and the provider's collection of it if there is
    one already. Without one, the contribution must still be pledged."""
    scheme = get_scheme(connection, scheme_id)
    require_manager(scheme, principal)
    contribution = get_contribution(connection, scheme.id, contribution_id)
    existing = collection_of(connection, provider, contribution.id)
    if existing is None and contribution.status != "pledged":
        raise ContributionNotPledged(f"contribution {contribution.id} is {contribution.status}")
    return scheme, contribution, existing


def open_collection(
    connection: Connection,
    provider: str,
    scheme: SchemeRecord,
    contribution: ContributionRecord,
    *,
    external_id: str,
    now: datetime,
) -> CollectionRecord:
    """Record that ``contribution`` is being collected by ``provider`` as
    ``external_id``. Opening it again (the same id) returns it."""
    existing = collection_of(connection, provider, contribution.id)
    if existing is not None:
        return existing
    if contribution.status != "pledged":
        raise ContributionNotPledged(f"contribution {contribution.id} is {contribution.status}")
    record = CollectionRecord(
        id=uuid7(),
        provider=provider,
        scheme_id=scheme.id,
        contribution_id=contribution.id,
        external_id=external_id,
        amount_minor=contribution.amount_minor,
        currency=scheme.currency,
        status="open",
        created_at=now,
        succeeded_at=None,
    )
    connection.execute(insert(collections).values(**record.__dict__))
    return record
