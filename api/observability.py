"""X-Request-Id on every response and one JSON log line per request."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-Id"
#: An incoming id is echoed only if it is short and plain (it ends up in logs).
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")

access_log = logging.getLogger("ledger.access")


def _configure_access_log() -> None:
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


def install(app: Flask, *, log_requests: bool) -> None:
    if log_requests:
        _configure_access_log()

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        if log_requests:
            caller = g.get("principal")
            started = g.get("started")
            access_log.info(
                json.dumps(
                    {
                        "request_id": request_id,
                        "method": request.method,
                        "route": request.url_rule.rule if request.url_rule else None,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                        if started
                        else None,
                        "principal": str(caller.id) if caller else None,
                        "role": caller.role if caller else None,
                    },
                    separators=(",", ":"),
                )
            )
        return response
