"""Idempotency-Key for POSTs: replay, conflict, in flight.

* Same key, same request (method, path and JSON body, compared canonically), same
  principal: the stored response is replayed with ``Idempotent-Replayed: true``.
* Same key, another request: 422 ``idempotency_conflict``.
* Same key while the first is still running: 409 ``idempotency_in_flight``.

Responses below 500 are stored, errors included (a replayed refusal is still a
refusal). A 5xx or an unexpected exception forgets the claim, so a retry runs
afresh; money moved by a request is protected a second time by the journal's own
idempotency key, which handlers pass on.

Round trips (PostgreSQL): a key nobody holds is claimed with one committed
``INSERT ... ON CONFLICT DO NOTHING``; any other case (replay, conflict, in flight,
expired, taken over) goes through :func:`begin_request` as before. A handler that
runs its work through :func:`run_recorded` stores its response in the same
transaction as its writes: what moved and what a retry replays are committed
together, or neither is.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, make_response, request
from flask_smorest import Blueprint
from sqlalchemy import Connection, bindparam
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from werkzeug.exceptions import HTTPException

from api.auth import single_statement_database
from api.context import clock, database, principal, settings
from api.errors import PROBLEM_MIMETYPE, ApiProblem, problem_for
from api.openapi import IDEMPOTENCY_EXTENSION
from ledger.access.idempotency import (
    Replay,
    abandon_request,
    begin_request,
    finish_request,
)
from ledger.access.idempotency import requests as idempotent_requests
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.limits import IDEMPOTENCY_KEY_LENGTH_MAX

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_LENGTH_MAX}}}$")

#: ``g`` attributes: the (principal id, key) this request claimed, and the same
#: once run_recorded has committed the response with the request's work.
_CLAIMED = "idempotency_claimed"
_RECORDED = "idempotency_recorded"


def idempotency_key() -> str | None:
    """The request's key, validated (None when absent)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_PATTERN.match(key):
        raise ApiProblem(
            400,
            "invalid_idempotency_key",
            f"{HEADER} must be 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} printable ASCII characters "
            "without spaces",
        )
    return key


def _canonical_body() -> str:
    raw = request.get_data(cache=True)
    try:
        # Decimal keeps 1.10 and 1.1 apart and never rounds: a fingerprint, not arithmetic.
        parsed = json.loads(raw, parse_float=Decimal)
    except ValueError:
        return "raw:" + hashlib.sha256(raw).hexdigest()
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint() -> str:
    text = f"{request.method} {request.path}\n{_canonical_body()}"
    return hashlib.sha256(text.encode()).hexdigest()


#: begin_request's insert of a new record, as one statement that does nothing when
#: a record exists. Built once: constructing it per request costs more than running it.
_CLAIM_FREE_KEY = (
    postgresql_insert(idempotent_requests)
    .values(
        principal_id=bindparam("principal_id"),
        key=bindparam("key"),
        fingerprint=bindparam("fingerprint"),
        state="in_flight",
        response_status=None,
        response_body=None,
        created_at=bindparam("now"),
        locked_until=bindparam("locked_until"),
        expires_at=bindparam("expires_at"),
    )
    .on_conflict_do_nothing(
        index_elements=[idempotent_requests.c.principal_id, idempotent_requests.c.key]
    )
    .returning(idempotent_requests.c.key)
)


def _claim_free_key(
    connection: Connection,
    principal_id: uuid.UUID,
    key: str,
    print_: str,
    *,
    now: datetime,
    keep: timedelta,
    lock: timedelta,
) -> bool:
    """Claim ``key`` if no record holds it, as begin_request's insert would; False
    when a record exists (or is being written: the statement waits for it)."""
    parameters = {
        "principal_id": principal_id,
        "key": key,
        "fingerprint": print_,
        "now": now,
        "locked_until": now + lock,
        "expires_at": now + keep,
    }
    return connection.execute(_CLAIM_FREE_KEY, parameters).first() is not None


def _begin(db: Database, principal_id: uuid.UUID, key: str, print_: str) -> Replay | None:
    """Claim ``key`` in its own committed unit of work, or the response to replay
    (IdempotencyConflict, RequestInFlight as begin_request raises them)."""
    config = settings()
    now = clock().now()
    keep = timedelta(hours=config.idempotency_keep_hours)
    lock = timedelta(seconds=config.idempotency_lock_seconds)
    if db.dialect == "postgresql":
        claimed = single_statement_database(db).run(
            lambda connection: _claim_free_key(
                connection, principal_id, key, print_, now=now, keep=keep, lock=lock
            )
        )
        if claimed:
            return None
    return db.run(
        lambda connection: begin_request(
            connection, principal_id, key, print_, now=now, keep=keep, lock=lock
        )
    )


def run_recorded(work: Callable[[Connection], T], respond: Callable[[T], Response]) -> Response:
    """Run ``work`` in one unit of work and return ``respond(its result)``.

    When this request claimed an Idempotency-Key, the response is stored in that
    same transaction: the request's writes and the response a retry replays are
    committed together, or neither is. An error rolls both back and takes the
    decorator's usual path (a refusal is stored, a 5xx forgets the claim).
    """
    db = database()
    claimed = g.get(_CLAIMED)
    if claimed is None:
        return respond(db.run(work))
    principal_id, key = claimed

    def unit(connection: Connection) -> Response:
        response = respond(work(connection))
        assert response.status_code < 500, "run_recorded stores successes"
        body = response.get_data(as_text=True)
        finish_request(connection, principal_id, key, status=response.status_code, body=body)
        return response

    response = db.run(unit)
    setattr(g, _RECORDED, claimed)
    return response


def idempotent(*, required: bool) -> Callable[[F], F]:
    """Make a POST idempotent by its Idempotency-Key (``required``: 400 without one)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = idempotency_key()
            if key is None:
                if required:
                    raise ApiProblem(
                        400,
                        "idempotency_key_required",
                        f"this request moves money: send an {HEADER} header "
                        "(a unique value per operation, reused on retries)",
                    )
                return view(*args, **kwargs)
            caller, db = principal(), database()
            replay = _begin(db, caller.id, key, fingerprint())
            if replay is not None:
                mimetype = PROBLEM_MIMETYPE if replay.status >= 400 else "application/json"
                response = Response(replay.body, status=replay.status, mimetype=mimetype)
                response.headers[REPLAYED_HEADER] = "true"
                return response
            claimed = (caller.id, key)
            setattr(g, _CLAIMED, claimed)
            try:
                response = make_response(view(*args, **kwargs))
            except (LedgerError, ApiProblem, HTTPException) as error:
                response = problem_for(error)
            except BaseException:
                if g.get(_RECORDED) != claimed:
                    db.run(lambda connection: abandon_request(connection, caller.id, key))
                raise
            if g.get(_RECORDED) == claimed:
                return response  # stored with the request's work (run_recorded)
            if response.status_code >= 500:
                db.run(lambda connection: abandon_request(connection, caller.id, key))
                return response
            body = response.get_data(as_text=True)
            db.run(
                lambda connection: finish_request(
                    connection, caller.id, key, status=response.status_code, body=body
                )
            )
            return response

        # Documents the header (api.openapi turns this into a header parameter).
        documented = Blueprint.doc(
            **{IDEMPOTENCY_EXTENSION: "required" if required else "optional"}
        )
        return documented(wrapper)  # type: ignore[no-any-return]

    return decorate
