"""Announcing events: ``emit`` in the unit of work of the change it announces.

An event is addressed to one principal (the partner whose remittance or loan it is;
the fund manager of the scheme a contribution went to) and fans out, in the same
transaction, to a delivery for each of that principal's enabled endpoints subscribed
to its type. Its id (a UUIDv7, so ids sort by time) is what receivers deduplicate on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ledger.events.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from ledger.ids import uuid7
from ledger.money import from_minor

events = OutboxEvent.__table__
endpoints = WebhookEndpoint.__table__
deliveries = WebhookDelivery.__table__

EVENT_TYPES = (
    "remittance.completed",
    "remittance.failed",
    "remittance.expired",
    "loan.application.decided",
    "loan.disbursed",
    "loan.repayment.received",
    "loan.overdue",
    "scheme.contribution.received",
)


def money_data(amount_minor: int, currency: str) -> dict[str, str]:
    """Money in an event's data, as the API writes it."""
    return {"amount": str(from_minor(amount_minor, currency)), "currency": currency}


def emit(
    connection: Connection,
    principal_id: uuid.UUID,
    type: str,
    data: Mapping[str, Any],
    *,
    now: datetime,
) -> uuid.UUID:
    """Record one event for ``principal_id`` and its deliveries; returns its id."""
    return emit_many(connection, type, [(principal_id, data)], now=now)[0]


def emit_many(
    connection: Connection,
    type: str,
    items: Iterable[tuple[uuid.UUID, Mapping[str, Any]]],
    *,
    now: datetime,
) -> list[uuid.UUID]:
    """Events of one type in bulk (the scheduler's jobs announce many at once)."""
    assert type in EVENT_TYPES, type  # event types are the code's, never input
    rows = [
        {
            "id": uuid7(),
            "type": type,
            "principal_id": principal,
            "data": dict(data),
            "created_at": now,
        }
        for principal, data in items
    ]
    if not rows:
        return []
    connection.execute(insert(events), rows)
    principals = {row["principal_id"] for row in rows}
    listening: dict[uuid.UUID, list[uuid.UUID]] = {}
    for endpoint_id, principal_id, subscribed in connection.execute(
        select(endpoints.c.id, endpoints.c.principal_id, endpoints.c.events).where(
            endpoints.c.principal_id.in_(principals), endpoints.c.status == "enabled"
        )
    ):
        if type in subscribed or "*" in subscribed:
            listening.setdefault(principal_id, []).append(endpoint_id)
    fan_out = [
        {
            "id": uuid7(),
            "event_id": row["id"],
            "endpoint_id": endpoint_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for row in rows
        for endpoint_id in listening.get(row["principal_id"], [])
    ]
    if fan_out:
        connection.execute(insert(deliveries), fan_out)
    return [row["id"] for row in rows]
