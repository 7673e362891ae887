"""Idempotency-Key for POSTs: replay, conflict, in flight.

* Same key, same request (method, path and JSON body, compared canonically), same
  principal: the stored response is replayed with ``Idempotent-Replayed: true``.
* Same key, another request: 422 ``idempotency_conflict``.
* Same key while the first is still running: 409 ``idempotency_in_flight``.

Responses below 500 are stored, errors included (a replayed refusal is still a
refusal). A 5xx or an unexpected exception forgets the claim, so a retry runs
afresh; money moved by a request is protected a second time by the journal's own
idempotency key, which handlers pass on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar

from flask import Response, make_response, request
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from api.context import clock, database, principal, settings
from api.errors import PROBLEM_MIMETYPE, ApiProblem, problem_for
from api.openapi import IDEMPOTENCY_EXTENSION
from ledger.access.idempotency import abandon_request, begin_request, finish_request
from ledger.errors import LedgerError
from ledger.limits import IDEMPOTENCY_KEY_LENGTH_MAX

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_LENGTH_MAX}}}$")


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
            caller, config, db = principal(), settings(), database()
            print_ = fingerprint()
            replay = db.run(
                lambda connection: begin_request(
                    connection,
                    caller.id,
                    key,
                    print_,
                    now=clock().now(),
                    keep=timedelta(hours=config.idempotency_keep_hours),
                    lock=timedelta(seconds=config.idempotency_lock_seconds),
                )
            )
            if replay is not None:
                mimetype = PROBLEM_MIMETYPE if replay.status >= 400 else "application/json"
                response = Response(replay.body, status=replay.status, mimetype=mimetype)
                response.headers[REPLAYED_HEADER] = "true"
                return response
            try:
                response = make_response(view(*args, **kwargs))
            except (LedgerError, ApiProblem, HTTPException) as error:
                response = problem_for(error)
            except BaseException:
                db.run(lambda connection: abandon_request(connection, caller.id, key))
                raise
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
