"""Authentication (Bearer API keys), roles, and per-key rate limits.

The key is looked up on every request (nothing is cached), so a revoked key is
refused at once by every worker. On PostgreSQL the lookup, a single SELECT, runs
in autocommit mode: one round trip instead of BEGIN, SELECT, COMMIT, and the
same answer, since a statement on its own sees exactly what a READ COMMITTED
transaction around it would.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, g, request

from api.context import database
from api.errors import ApiProblem
from api.rate_limit import RateLimiter
from ledger.access.keys import Unauthenticated, authenticate
from ledger.access.principals import PrincipalRecord
from ledger.db import Database

F = TypeVar("F", bound=Callable[..., Any])

RATE_LIMITER_EXTENSION = "ledger.rate_limiter"

#: Endpoints anyone may call: health, and the API's own description.
PUBLIC_ENDPOINTS = frozenset(
    {
        "healthz",
        "readyz",
        "api-docs.openapi_json",
        "api-docs.openapi_swagger_ui",
        "docs.static",
        # Stripe signs its events instead (verified by the provider, see api.resources.payments).
        "payments.stripe_webhook",
    }
)

#: The OpenAPI security scheme every authenticated operation declares.
SECURITY_SCHEME = {"bearerAuth": {"type": "http", "scheme": "bearer"}}


def requires(*roles: str) -> Callable[[F], F]:
    """Allow only principals with one of ``roles`` (others get 403 forbidden)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if g.principal.role not in roles:
                raise ApiProblem(
                    403,
                    "forbidden",
                    f"this operation needs the role {' or '.join(roles)}; "
                    f"the key's principal is {g.principal.role}",
                )
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send the API key as 'Authorization: Bearer <key>'")
    return token.strip()


#: Per Database: the same engine (and pool) with autocommit connections, on
#: PostgreSQL; elsewhere the Database itself (SQLite's writes begin IMMEDIATE).
_single_statement: weakref.WeakKeyDictionary[Database, Database] = weakref.WeakKeyDictionary()


def single_statement_database(db: Database) -> Database:
    """Where work of one read-only statement runs: in autocommit mode on PostgreSQL,
    so it costs one round trip (retries of dropped connections included)."""
    runner = _single_statement.get(db)
    if runner is None:
        if db.dialect == "postgresql":
            runner = Database(db.engine.execution_options(isolation_level="AUTOCOMMIT"))
        else:
            runner = db
        _single_statement[db] = runner
    return runner


def lookup_key(token: str) -> tuple[PrincipalRecord, uuid.UUID]:
    """The principal holding ``token`` and the key's id, checked now (Unauthenticated)."""
    runner = single_statement_database(database())
    return runner.run(lambda connection: authenticate(connection, token))


def install(app: Flask, limiter: RateLimiter) -> None:
    app.extensions[RATE_LIMITER_EXTENSION] = limiter

    @app.before_request
    def _authenticate() -> None:
        g.principal = None
        if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
            return  # unknown routes answer 404; public ones need no key
        if request.method == "OPTIONS":
            return
        token = _bearer_token()
        principal, key_id = lookup_key(token)
        g.principal, g.key_id = principal, key_id
        wait = limiter.acquire(key_id)
        if wait > 0:
            raise ApiProblem(
                429,
                "rate_limited",
                f"too many requests for this API key; retry in {wait:.2f} s",
                headers={"Retry-After": RateLimiter.retry_after(wait)},
            )
