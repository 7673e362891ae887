"""application/problem+json (RFC 9457): the one shape of every API error.

Domain errors (LedgerError) are mapped to HTTP here and nowhere else.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json

from ledger.errors import (
    ConcurrencyExhausted,
    Conflict,
    InsufficientFunds,
    LedgerError,
    NotFound,
    ValidationFailed,
)

PROBLEM_TYPE_BASE = "https://ledger.example/problems/"

_STATUS_BY_ERROR: list[tuple[type[LedgerError], int]] = [
    (ConcurrencyExhausted, 503),
    (NotFound, 404),
    (Conflict, 409),
    (ValidationFailed, 422),
    (InsufficientFunds, 422),
    (LedgerError, 422),
]


def problem(status: int, code: str, title: str, detail: str = "", **extra: Any) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
        **extra,
    }
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def status_for(error: LedgerError) -> int:
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    raise AssertionError("unreachable: LedgerError is last")  # pragma: no cover


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(LedgerError)
    def _ledger_error(error: LedgerError) -> Response:
        title = error.code.replace("_", " ").capitalize()
        return problem(status_for(error), error.code, title, error.message, **error.details)
