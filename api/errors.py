"""application/problem+json (RFC 9457): the one shape of every API error.

Domain errors (LedgerError) and HTTP-level refusals (ApiProblem, werkzeug's
HTTPException, marshmallow validation) are turned into problems here and nowhere
else. Every problem has a stable machine ``code``; validation problems add
``errors``, a map of field to messages.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from ledger.access.keys import Unauthenticated
from ledger.credit.schemes import NotSchemeManager
from ledger.errors import (
    BatchRejected,
    ConcurrencyExhausted,
    Conflict,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    NotFound,
    ValidationFailed,
)
from ledger.payments.errors import InvalidSignature, ProviderFailed, ProviderUnavailable

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://ledger.example/problems/"
PROBLEM_MIMETYPE = "application/problem+json"

_STATUS_BY_ERROR: list[tuple[type[LedgerError], int]] = [
    (Unauthenticated, 401),
    (InvalidSignature, 400),
    (ProviderUnavailable, 503),
    (ProviderFailed, 502),
    (NotSchemeManager, 403),
    (ConcurrencyExhausted, 503),
    (NotFound, 404),
    (IdempotencyConflict, 422),
    (Conflict, 409),
    (ValidationFailed, 422),
    (InsufficientFunds, 422),
    (BatchRejected, 422),
    (LedgerError, 422),
]

#: Codes of HTTP-level errors raised by werkzeug and webargs.
_CODE_BY_HTTP_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ApiProblem(Exception):
    """A refusal decided by the HTTP layer (authorization, rate limits, headers)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


def problem(status: int, code: str, title: str, detail: str = "", **extra: Any) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
        **extra,
    }
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)


def status_for(error: LedgerError) -> int:
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    raise AssertionError("unreachable: LedgerError is last")  # pragma: no cover


def _field_messages(messages: Any) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {...}}); callers want fields."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers", "view_args"}:
        merged: dict[str, Any] = {}
        for part in messages.values():
            merged.update(part if isinstance(part, dict) else {"_schema": part})
        return merged
    return messages if isinstance(messages, dict) else {"_schema": messages}


#: Members every problem has. A domain error's detail of the same name (a
#: transaction's ``status``, an account's ``code``) is renamed after the error's
#: subject (``transaction_status``, ``account_code``), never let to clash.
_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "code"})


def _details(error: LedgerError) -> dict[str, Any]:
    subject = error.code.split("_", 1)[0]
    return {
        (f"{subject}_{key}" if key in _PROBLEM_MEMBERS else key): value
        for key, value in error.details.items()
    }


def problem_for(error: BaseException) -> Response:
    """The problem response for an expected error (anything else is a 500)."""
    if isinstance(error, LedgerError):
        response = problem(
            status_for(error), error.code, _title(error.code), error.message, **_details(error)
        )
        if isinstance(error, Unauthenticated):
            response.headers["WWW-Authenticate"] = 'Bearer realm="ledger"'
        return response
    if isinstance(error, ApiProblem):
        response = problem(
            error.status, error.code, _title(error.code), error.detail, **error.extra
        )
        response.headers.update(error.headers)
        return response
    if isinstance(error, HTTPException):
        status = error.code or 500
        if status >= 500:
            return problem(status, "internal_error", "Internal error", "unexpected error")
        code = _CODE_BY_HTTP_STATUS.get(status, "http_error")
        data = getattr(error, "data", None) or {}
        if "messages" in data:  # webargs/marshmallow validation
            return problem(
                422,
                "validation_error",
                "Validation error",
                "the request does not match the schema; see errors",
                errors=_field_messages(data["messages"]),
            )
        response = problem(status, code, _title(code), error.description or "")
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response
    raise TypeError(f"not an expected error: {error!r}")


def register_error_handlers(app: Flask) -> None:
    """Install after flask-smorest's Api, whose own HTTPException handler this replaces."""
    app.register_error_handler(LedgerError, problem_for)
    app.register_error_handler(ApiProblem, problem_for)
    app.register_error_handler(HTTPException, problem_for)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal_error", "Internal error", "unexpected error")
