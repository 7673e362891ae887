"""Webhook endpoints: a principal registers a URL and the event types it wants; the
secret that signs its deliveries is shown once, when it is made. Deliveries can be
listed (with their attempts) and one can be replayed."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, insert, select, update

from ledger.errors import NotFound, ValidationFailed
from ledger.events.models import ENDPOINT_URL_LENGTH_MAX, WebhookAttempt
from ledger.events.outbox import EVENT_TYPES, deliveries, endpoints, events
from ledger.ids import uuid7
from ledger.journal.validation import refuse_nul

attempts = WebhookAttempt.__table__

#: Endpoints per principal, at most.
ENDPOINTS_PER_PRINCIPAL_MAX = 10


class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


@dataclass(frozen=True)
class EndpointRecord:
    id: uuid.UUID
    principal_id: uuid.UUID
    url: str
    events: list[str]
    status: str
    consecutive_failures: int
    created_at: datetime
    disabled_at: datetime | None


def endpoint_record(row: Any) -> EndpointRecord:
    return EndpointRecord(
        row.id,
        row.principal_id,
        row.url,
        list(row.events),
        row.status,
        row.consecutive_failures,
        row.created_at,
        row.disabled_at,
    )


def register_endpoint(
    connection: Connection,
    principal_id: uuid.UUID,
    *,
    url: str,
    event_types: list[str],
    now: datetime,
) -> tuple[EndpointRecord, str]:
    """A new endpoint and its signing secret (returned here only)."""
    if not isinstance(url, str) or len(url) > ENDPOINT_URL_LENGTH_MAX:
        raise ValidationFailed(
            f"a URL is at most {ENDPOINT_URL_LENGTH_MAX} characters", field="url"
        )
    refuse_nul(url, "url")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed("an endpoint is an http(s) URL with a host", field="url")
    # Credentials, backslashes and blanks are where URL parsers disagree on the host.
    if "@" in parts.netloc or any(c in url for c in "\\ \t\r\n"):
        raise ValidationFailed(
            "an endpoint URL has no credentials, backslashes or blanks", field="url"
        )
    wanted = list(dict.fromkeys(event_types))
    unknown = [t for t in wanted if t not in EVENT_TYPES and t != "*"]
    if not wanted or unknown:
        raise ValidationFailed(
            f"events are some of {', '.join(EVENT_TYPES)} (or '*')", field="events"
        )
    existing = connection.execute(
        select(endpoints.c.id).where(endpoints.c.principal_id == principal_id)
    ).all()
    if len(existing) >= ENDPOINTS_PER_PRINCIPAL_MAX:
        raise ValidationFailed(
            f"at most {ENDPOINTS_PER_PRINCIPAL_MAX} endpoints per principal", field="url"
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    values = {
        "id": uuid7(),
        "principal_id": principal_id,
        "url": url,
        "secret": secret,
        "events": wanted,
        "status": "enabled",
        "consecutive_failures": 0,
        "created_at": now,
        "disabled_at": None,
    }
    connection.execute(insert(endpoints).values(**values))
    return EndpointRecord(values["id"], principal_id, url, wanted, "enabled", 0, now, None), secret


def get_endpoint(
    connection: Connection, endpoint_id: uuid.UUID, principal_id: uuid.UUID | None = None
) -> EndpointRecord:
    query = select(endpoints).where(endpoints.c.id == endpoint_id)
    if principal_id is not None:
        query = query.where(endpoints.c.principal_id == principal_id)
    row = connection.execute(query).first()
    if row is None:
        raise EndpointNotFound(f"webhook endpoint {endpoint_id} does not exist")
    return endpoint_record(row)


def list_endpoints(connection: Connection, principal_id: uuid.UUID) -> list[EndpointRecord]:
    rows = connection.execute(
        select(endpoints).where(endpoints.c.principal_id == principal_id).order_by(endpoints.c.id)
    )
    return [endpoint_record(row) for row in rows]


def set_endpoint_status(
    connection: Connection,
    principal_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    enabled: bool,
    now: datetime,
) -> EndpointRecord:
    """Enable (failures forgiven) or disable an endpoint of the principal's."""
    get_endpoint(connection, endpoint_id, principal_id)
    connection.execute(
        update(endpoints)
        .where(endpoints.c.id == endpoint_id)
        .values(
            status="enabled" if enabled else "disabled",
            consecutive_failures=0 if enabled else endpoints.c.consecutive_failures,
            disabled_at=None if enabled else now,
        )
    )
    return get_endpoint(connection, endpoint_id)


def list_deliveries(
    connection: Connection,
    principal_id: uuid.UUID,
    *,
    endpoint_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int,
    starting_after: uuid.UUID | None = None,
) -> tuple[list[Any], bool]:
    """The principal's deliveries, newest first, with their event's type."""
    query = (
        select(deliveries, events.c.type, events.c.data, endpoints.c.url)
        .join(events, events.c.id == deliveries.c.event_id)
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(endpoints.c.principal_id == principal_id)
    )
    if endpoint_id is not None:
        query = query.where(deliveries.c.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(deliveries.c.status == status)
    if starting_after is not None:
        query = query.where(deliveries.c.id < starting_after)
    rows = connection.execute(query.order_by(deliveries.c.id.desc()).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def attempts_of(connection: Connection, delivery_id: uuid.UUID) -> list[Any]:
    return list(
        connection.execute(
            select(attempts)
            .where(attempts.c.delivery_id == delivery_id)
            .order_by(attempts.c.number)
        )
    )


def get_delivery(connection: Connection, principal_id: uuid.UUID, delivery_id: uuid.UUID) -> Any:
    row = connection.execute(
        select(deliveries, events.c.type, events.c.data, endpoints.c.url)
        .join(events, events.c.id == deliveries.c.event_id)
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(deliveries.c.id == delivery_id, endpoints.c.principal_id == principal_id)
    ).first()
    if row is None:
        raise DeliveryNotFound(f"webhook delivery {delivery_id} does not exist")
    return row


def replay_delivery(
    connection: Connection, principal_id: uuid.UUID, delivery_id: uuid.UUID, *, now: datetime
) -> Any:
    """Send a delivery again (delivered or failed ones too): due now, same event id."""
    get_delivery(connection, principal_id, delivery_id)
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status="pending", next_attempt_at=now, lease_until=None, delivered_at=None)
    )
    return get_delivery(connection, principal_id, delivery_id)
