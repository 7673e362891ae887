"""Authentication (Bearer API keys), roles, and per-key rate limits."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, g, request

from api.context import database
from api.errors import ApiProblem
from api.rate_limit import RateLimiter
from ledger.access.keys import Unauthenticated, authenticate

F = TypeVar("F", bound=Callable[..., Any])

RATE_LIMITER_EXTENSION = "ledger.rate_limiter"

#: Endpoints anyone may call: health, and the API's own description.
PUBLIC_ENDPOINTS = frozenset(
    {"healthz", "readyz", "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs.static"}
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
        principal, key_id = database().run(lambda connection: authenticate(connection, token))
        g.principal, g.key_id = principal, key_id
        wait = limiter.acquire(key_id)
        if wait > 0:
            raise ApiProblem(
                429,
                "rate_limited",
                f"too many requests for this API key; retry in {wait:.2f} s",
                headers={"Retry-After": RateLimiter.retry_after(wait)},
            )
