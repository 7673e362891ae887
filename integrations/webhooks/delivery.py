"""Delivering the outbox: a worker takes due deliveries, POSTs each to its endpoint,
and records the attempt.

* **Claim** (one short transaction): due pending deliveries of enabled endpoints are
  leased to this worker until ``now + lease`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
  so workers never take the same one). A worker that dies mid-delivery loses nothing:
  its lease runs out and another worker sends it. Receivers deduplicate on the event
  id (``Ledger-Event-Id``): a worker that died after sending and before recording
  causes a second send of the same event, which is the most "at least once" can do.
* **Send** outside any transaction, with a timeout; a 2xx is success.
* **Record** (one short transaction): the attempt; success marks it delivered and
  forgives the endpoint's failures; failure schedules the next attempt with
  exponential back-off (30 s, doubling, at most 6 h) or, after ``ATTEMPTS_MAX``, fails
  the delivery; an endpoint whose deliveries failed ``ENDPOINT_FAILURES_MAX`` times in
  a row is disabled (its owner re-enables it).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import Connection, and_, insert, or_, select, update
from urllib3.util import parse_url

from integrations.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from ledger.db import Database
from ledger.events.endpoints import attempts
from ledger.events.outbox import deliveries, endpoints, events
from ledger.ids import uuid7

log = logging.getLogger(__name__)

ATTEMPTS_MAX = 8
ENDPOINT_FAILURES_MAX = 20
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)
LEASE = timedelta(seconds=60)
TIMEOUT_SECONDS = 10
CLAIM_BATCH = 50
ERROR_LENGTH_MAX = 1_000


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    attempt: int
    url: str
    secret: str
    event_id: uuid.UUID
    body: bytes
    lease_until: datetime


@dataclass(frozen=True)
class Response:
    status_code: int | None
    error: str | None


Sender = Callable[[str, bytes, dict[str, str]], Response]


def http_sender(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST with ``requests``; any network failure is an error, not an exception."""
    try:
        # A redirect would send the signed event somewhere the partner did not register.
        answer = requests.post(
            url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.RequestException as error:
        return Response(None, f"{type(error).__name__}: {error}"[:ERROR_LENGTH_MAX])
    if 200 <= answer.status_code < 300:
        return Response(answer.status_code, None)
    return Response(answer.status_code, f"HTTP {answer.status_code}")


def _private_address(host: str) -> str | None:
    """Why ``host`` may not be called: an address inside this network (loopback,
    private, link-local such as cloud metadata, reserved) or no address at all; None
    when every address is public."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as error:
        return f"does not resolve ({error.strerror or error})"  # refused, not waved through
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return f"resolves to non-public address {address}"
    return None


def public_only(sender: Sender) -> Sender:
    """``sender`` for public hosts only: a partner's URL must not make the service call
    its own network (SSRF). Names are resolved just before the send; a name that
    changes between this check and the connection is the residual risk a egress proxy
    closes (see README)."""

    def send(url: str, body: bytes, headers: dict[str, str]) -> Response:
        # The host the HTTP library will connect to (urllib3 parses URLs its own way;
        # urlsplit does not always agree, e.g. on backslashes before an "@").
        host = (parse_url(url).host or "").strip("[]")
        reason = _private_address(host) if host else "has no host"
        if reason is not None:
            return Response(None, f"refused: {host} {reason}")
        return sender(url, body, headers)

    return send


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1, 2, ...)."""
    return min(BACKOFF_FIRST * 2 ** (attempt - 1), BACKOFF_MAX)


def body_of(event_id: uuid.UUID, type: str, created_at: datetime, data: Any) -> bytes:
    """The delivery's JSON: the event as partners read it."""
    payload = {"id": str(event_id), "type": type, "created": created_at.isoformat(), "data": data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def claim(
    connection: Connection, *, now: datetime, limit: int = CLAIM_BATCH, lease: timedelta = LEASE
) -> list[Claimed]:
    due = (
        select(deliveries.c.id)
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
            endpoints.c.status == "enabled",
        )
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        due = due.with_for_update(of=deliveries, skip_locked=True)
    ids = list(connection.execute(due).scalars())
    if not ids:
        return []
    connection.execute(
        update(deliveries).where(deliveries.c.id.in_(ids)).values(lease_until=now + lease)
    )
    rows = connection.execute(
        select(
            deliveries.c.id,
            deliveries.c.attempts,
            deliveries.c.event_id,
            endpoints.c.url,
            endpoints.c.secret,
            events.c.type,
            events.c.data,
            events.c.created_at,
        )
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.id.in_(ids))
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
    ).all()
    return [
        Claimed(
            row.id,
            row.attempts + 1,
            row.url,
            row.secret,
            row.event_id,
            body_of(row.event_id, row.type, row.created_at, row.data),
            now + lease,
        )
        for row in rows
    ]


def record(
    connection: Connection,
    claimed: Claimed,
    response: Response,
    *,
    started_at: datetime,
    duration_ms: int,
    now: datetime,
) -> str:
    """The attempt and its consequences; returns the delivery's new status."""
    current = connection.execute(
        select(deliveries.c.status, deliveries.c.attempts, deliveries.c.endpoint_id)
        .where(deliveries.c.id == claimed.delivery_id)
        .with_for_update()
    ).one()
    if current.status != "pending":
        return str(current.status)  # settled meanwhile (a replay's send): keep it
    number = current.attempts + 1
    connection.execute(
        insert(attempts).values(
            id=uuid7(),
            delivery_id=claimed.delivery_id,
            number=number,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=response.status_code,
            error=response.error,
        )
    )
    common = {
        "attempts": number,
        "lease_until": None,
        "last_status_code": response.status_code,
        "last_error": response.error,
    }
    endpoint = endpoints.c.id == current.endpoint_id
    if response.error is None:
        connection.execute(
            update(deliveries)
            .where(deliveries.c.id == claimed.delivery_id)
            .values(status="delivered", delivered_at=now, **common)
        )
        connection.execute(update(endpoints).where(endpoint).values(consecutive_failures=0))
        return "delivered"
    exhausted = number >= ATTEMPTS_MAX
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == claimed.delivery_id)
        .values(
            status="failed" if exhausted else "pending",
            next_attempt_at=now + backoff(number),
            **common,
        )
    )
    if exhausted:
        connection.execute(
            update(endpoints)
            .where(endpoint)
            .values(consecutive_failures=endpoints.c.consecutive_failures + 1)
        )
        connection.execute(
            update(endpoints)
            .where(
                and_(endpoint, endpoints.c.consecutive_failures >= ENDPOINT_FAILURES_MAX),
                endpoints.c.status == "enabled",
            )
            .values(status="disabled", disabled_at=now)
        )
        return "failed"
    return "pending"


def renew(
    connection: Connection, claimed: Claimed, *, now: datetime, lease: timedelta
) -> Claimed | None:
    """Hold the delivery for one more send, if it is still this worker's (a batch's
    later items would otherwise outlive the claim's lease and be taken again)."""
    until = now + lease
    taken = connection.execute(
        update(deliveries)
        .where(
            deliveries.c.id == claimed.delivery_id,
            deliveries.c.status == "pending",
            deliveries.c.lease_until == claimed.lease_until,
        )
        .values(lease_until=until)
    ).rowcount
    return Claimed(**{**claimed.__dict__, "lease_until": until}) if taken == 1 else None


def deliver_due(
    database: Database,
    *,
    now: Callable[[], datetime],
    sender: Sender = http_sender,
    limit: int = CLAIM_BATCH,
    lease: timedelta = LEASE,
) -> dict[str, int]:
    """One pass of the worker: claim what is due, send, record. Counts by outcome.
    Each send renews its delivery's lease first, so ``lease`` must outlast one send
    (``TIMEOUT_SECONDS``), not the batch."""
    outcomes = {"delivered": 0, "pending": 0, "failed": 0}
    for claimed in database.run(lambda c: claim(c, now=now(), limit=limit, lease=lease)):
        item = database.run(lambda c, claimed=claimed: renew(c, claimed, now=now(), lease=lease))
        if item is None:
            continue  # another worker has it now
        started_at, clock = now(), time.perf_counter()
        timestamp = int(started_at.timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(item.secret, timestamp, item.body),
            EVENT_ID_HEADER: str(item.event_id),
            "User-Agent": "remittance-ledger-webhooks/1",
        }
        response = sender(item.url, item.body, headers)
        elapsed = int((time.perf_counter() - clock) * 1_000)
        status = database.run(
            lambda c, item=item, response=response, started_at=started_at, elapsed=elapsed: record(
                c, item, response, started_at=started_at, duration_ms=elapsed, now=now()
            )
        )
        outcomes[status] += 1
        if response.error:
            log.info("webhook %s to %s failed: %s", item.event_id, item.url, response.error)
    return outcomes
