"""What /v1/openapi.json says about errors and idempotency, in one place.

* Every operation documents the problems it can answer, each as
  ``application/problem+json`` with :class:`~api.schemas.ProblemSchema`, instead of
  flask-smorest's default ``application/json`` "Error" responses (which are not
  what the API sends).
* Operations decorated with :func:`api.idempotency.idempotent` document their
  ``Idempotency-Key`` header, required or optional.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from apispec import APISpec, BasePlugin
from flask_smorest import Api

from api.errors import PROBLEM_MIMETYPE
from api.schemas import ProblemSchema
from ledger.limits import IDEMPOTENCY_KEY_LENGTH_MAX

#: Vendor extension set by ``idempotent`` (via ``Blueprint.doc``): "required" or
#: "optional". This plugin turns it into the header parameter and removes it.
IDEMPOTENCY_EXTENSION = "x-idempotency-key"

_PROBLEMS: dict[int, str] = {
    400: "A malformed request: idempotency_key_required, invalid_idempotency_key, bad_request.",
    401: "No valid API key: unauthenticated.",
    403: "The key's role may not call this operation: forbidden.",
    404: "The resource does not exist or is not yours: *_not_found.",
    409: "Conflicts with the current state: customer_exists, account_not_empty, "
    "idempotency_in_flight, already_reversed, ...",
    413: "The request body is too large: request_too_large.",
    422: "The request is refused: validation_error (see errors), insufficient_funds, "
    "idempotency_conflict, ...",
    429: "Too many requests for this API key: rate_limited.",
    503: "Temporarily unavailable (concurrency_retry_exhausted): retry later.",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme: Bearer",
            "schema": {"type": "string"},
            "required": True,
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
            "required": True,
        }
    },
}

#: Problems every operation can answer (all need a key, and read the database).
_EVERY_OPERATION = (401, 403, 404, 422, 429, 503)
#: Problems of requests with a body or an Idempotency-Key.
_WRITES = (400, 409, 413)

_IDEMPOTENCY_KEY_DESCRIPTION = (
    "A unique value per operation, reused on retries: the same key with the same "
    "request replays the first response (with `Idempotent-Replayed: true`); with "
    "another request it is 422 idempotency_conflict; while the first is still "
    "running it is 409 idempotency_in_flight."
)


def _response_name(status: int) -> str:
    return f"PROBLEM_{HTTPStatus(status).name}"


class ProblemResponsesPlugin(BasePlugin):
    """An apispec plugin: documents problem responses and Idempotency-Key headers."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        spec.components.schema("Problem", schema=ProblemSchema)
        for status, description in _PROBLEMS.items():
            response: dict[str, Any] = {
                "description": description,
                "content": {PROBLEM_MIMETYPE: {"schema": "Problem"}},
            }
            if status in _HEADERS:
                response["headers"] = _HEADERS[status]
            spec.components.response(_response_name(status), response, lazy=True)

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            statuses = list(_EVERY_OPERATION)
            idempotency = operation.pop(IDEMPOTENCY_EXTENSION, None)
            if method in ("post", "put", "patch", "delete"):
                statuses.extend(_WRITES)
            for status in sorted(statuses):
                responses.pop(status, None)  # flask-smorest's own 422, keyed by int
                responses[str(status)] = _response_name(status)
            if idempotency is not None:
                operation.setdefault("parameters", []).append(
                    {
                        "in": "header",
                        "name": "Idempotency-Key",
                        "required": idempotency == "required",
                        "description": _IDEMPOTENCY_KEY_DESCRIPTION,
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": IDEMPOTENCY_KEY_LENGTH_MAX,
                            "pattern": "^[\\x21-\\x7e]+$",
                        },
                    }
                )


class LedgerApi(Api):
    """flask-smorest's Api, documenting problems instead of its own error shape."""

    ERROR_SCHEMA = ProblemSchema
    #: Every problem is listed by status (ProblemResponsesPlugin), so no "default".
    DEFAULT_ERROR_RESPONSE_NAME = None


def create_api(app: Any) -> Api:
    return LedgerApi(app, spec_kwargs={"extra_plugins": [ProblemResponsesPlugin()]})
