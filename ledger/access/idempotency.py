"""Idempotent requests: one record per (principal, key), shared by every worker.

``begin_request`` runs in its own committed unit of work before the request's
work, so a concurrent request with the same key sees it in flight. A record in
flight past ``locked_until`` (its worker died) may be taken over; the money
moved by the first attempt is still protected by the journal's own idempotency
key, so the takeover replays it instead of posting twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from ledger.access.models import IdempotentRequest
from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import Conflict, IdempotencyConflict

requests = IdempotentRequest.__table__

register_race_constraint(
    RaceConstraint("pk_idempotent_requests", "idempotent_requests", ("principal_id", "key"))
)


class RequestInFlight(Conflict):
    code = "idempotency_in_flight"


@dataclass(frozen=True)
class Replay:
    status: int
    body: str


def begin_request(
    connection: Connection,
    principal_id: uuid.UUID,
    key: str,
    fingerprint: str,
    *,
    now: datetime,
    keep: timedelta,
    lock: timedelta,
) -> Replay | None:
    """Claim ``key`` for a new request (None), or return the stored response to
    replay. Raises IdempotencyConflict (another body) or RequestInFlight."""
    row = connection.execute(
        select(requests)
        .where(requests.c.principal_id == principal_id, requests.c.key == key)
        .with_for_update()
    ).first()
    values = {
        "fingerprint": fingerprint,
        "state": "in_flight",
        "response_status": None,
        "response_body": None,
        "created_at": now,
        "locked_until": now + lock,
        "expires_at": now + keep,
    }
    if row is None:
        connection.execute(insert(requests).values(principal_id=principal_id, key=key, **values))
        return None
    if row.expires_at <= now:  # forgotten: the key starts a new life
        _update(connection, principal_id, key, values)
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was used with a different request",
            idempotency_key=key,
        )
    if row.state == "done":
        return Replay(row.response_status, row.response_body)
    if row.locked_until > now:
        raise RequestInFlight(
            f"a request with idempotency key {key!r} is still being processed; retry later",
            idempotency_key=key,
        )
    _update(connection, principal_id, key, {"locked_until": now + lock})
    return None


def _update(connection: Connection, principal_id: uuid.UUID, key: str, values: dict) -> None:
    connection.execute(
        update(requests)
        .where(requests.c.principal_id == principal_id, requests.c.key == key)
        .values(**values)
    )


def finish_request(
    connection: Connection, principal_id: uuid.UUID, key: str, *, status: int, body: str
) -> None:
    """Store the response that later requests with this key replay."""
    _update(
        connection,
        principal_id,
        key,
        {"state": "done", "response_status": status, "response_body": body},
    )


def abandon_request(connection: Connection, principal_id: uuid.UUID, key: str) -> None:
    """Forget an in-flight claim whose request failed unexpectedly: a retry runs afresh."""
    connection.execute(
        delete(requests).where(
            requests.c.principal_id == principal_id,
            requests.c.key == key,
            requests.c.state == "in_flight",
        )
    )


def purge_expired(connection: Connection, *, now: datetime) -> int:
    """Delete records past ``expires_at``; returns how many."""
    result = connection.execute(delete(requests).where(requests.c.expires_at <= now))
    return result.rowcount or 0
