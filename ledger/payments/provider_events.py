"""Providers' events, stored by the provider's event id before anything is done with
them: a redelivery finds its row, so an event is acted on once however often it comes.

Statuses: ``received`` (stored; being processed, or its processor died: processing it
again is safe, every booking being idempotent), ``processed``, ``ignored`` (not about
anything of ours), ``failed`` (the error is kept; retried by the next delivery or by
``ledger-integrations retry-events``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ledger.db import RaceConstraint, register_race_constraint
from ledger.ids import uuid7
from ledger.payments.models import ProviderEvent

provider_events = ProviderEvent.__table__
ERROR_LENGTH_MAX = 2_000

register_race_constraint(
    RaceConstraint(
        "uq_provider_events_provider_external_id", "provider_events", ("provider", "external_id")
    )
)


@dataclass(frozen=True)
class ProviderEventRecord:
    id: uuid.UUID
    provider: str
    external_id: str
    type: str
    status: str
    payload: dict[str, Any]
    attempts: int
    error: str | None
    received_at: datetime
    processed_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in ("processed", "ignored")


def _record(row: Any) -> ProviderEventRecord:
    return ProviderEventRecord(
        **{name: getattr(row, name) for name in ProviderEventRecord.__dataclass_fields__}
    )


def store_event(
    connection: Connection,
    provider: str,
    *,
    external_id: str,
    type: str,
    payload: dict[str, Any],
    now: datetime,
) -> ProviderEventRecord:
    """The event's row: new, or the one a previous delivery stored."""
    row = connection.execute(
        select(provider_events).where(
            provider_events.c.provider == provider, provider_events.c.external_id == external_id
        )
    ).first()
    if row is not None:
        return _record(row)
    record = ProviderEventRecord(
        id=uuid7(),
        provider=provider,
        external_id=external_id,
        type=type,
        status="received",
        payload=payload,
        attempts=0,
        error=None,
        received_at=now,
        processed_at=None,
    )
    connection.execute(insert(provider_events).values(**record.__dict__))
    return record


def finish_event(
    connection: Connection,
    event_id: uuid.UUID,
    *,
    status: str,
    now: datetime,
    error: str | None = None,
) -> None:
    connection.execute(
        update(provider_events)
        .where(provider_events.c.id == event_id)
        .values(
            status=status,
            attempts=provider_events.c.attempts + 1,
            error=error[:ERROR_LENGTH_MAX] if error else None,
            processed_at=now if status in ("processed", "ignored") else None,
        )
    )


def list_events(
    connection: Connection,
    provider: str,
    *,
    status: str | None = None,
    limit: int | None = 100,
) -> list[ProviderEventRecord]:
    """Oldest first; ``limit=None``: all of them."""
    query = select(provider_events).where(provider_events.c.provider == provider)
    if status is not None:
        query = query.where(provider_events.c.status == status)
    query = query.order_by(provider_events.c.received_at, provider_events.c.id)
    if limit is not None:
        query = query.limit(limit)
    rows = connection.execute(query)
    return [_record(row) for row in rows]
