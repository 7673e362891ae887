"""The Flask application factory. No engine or app exists at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import text

from api import auth, observability
from api.context import CLOCK_EXTENSION, DATABASE_EXTENSION, SETTINGS_EXTENSION
from api.errors import problem, register_error_handlers
from api.openapi import create_api
from api.rate_limit import RateLimiter
from api.resources import (
    accounts,
    admin,
    corridors,
    customers,
    fx_rates,
    liquidity,
    loans,
    payments,
    portfolio,
    quotes,
    remittances,
    reports,
    schemes,
    transactions,
    webhooks,
)
from integrations.providers.base import PaymentProvider
from integrations.providers.registry import build_providers
from ledger.clock import Clock, SystemClock
from ledger.config import Settings
from ledger.db import Database, create_database
from ledger.migrations import current_revision, head_revision

API_PREFIX = "/v1"

__all__ = ["DATABASE_EXTENSION", "create_app"]


def _docs_assets() -> Blueprint:
    """Swagger UI's files from a Python package, so /v1/docs works offline."""
    return Blueprint(
        "docs",
        __name__,
        static_folder=str(Path(swagger_ui_bundle.swagger_ui_path)),
        static_url_path=f"{API_PREFIX}/docs/assets",
    )


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    clock: Clock | None = None,
    providers: dict[str, PaymentProvider] | None = None,
) -> Flask:
    """Build the app for ``settings`` (default: the environment). ``providers``: the
    payment providers (default: built from the settings)."""
    settings = settings or Settings.from_environment()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE="Remittance and micro-credit ledger",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"{API_PREFIX}/docs/assets/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": auth.SECURITY_SCHEME},
            "security": [{"bearerAuth": []}],
            "info": {
                "description": (
                    "Partner API of the ledger. Authenticate with `Authorization: Bearer <key>`. "
                    'Money is `{"amount": "150.00", "currency": "TJS"}` (a decimal '
                    "string). Money-moving POSTs need an `Idempotency-Key`. Errors are "
                    "`application/problem+json` with a stable `code`."
                )
            },
        },
    )
    app.extensions[DATABASE_EXTENSION] = database or create_database(settings=settings)
    app.extensions[CLOCK_EXTENSION] = clock or SystemClock()
    app.extensions[SETTINGS_EXTENSION] = settings
    app.extensions[payments.PROVIDERS_EXTENSION] = (
        providers if providers is not None else build_providers(settings)
    )

    observability.install(app, log_requests=settings.log_requests)
    auth.install(app, RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst))

    api = create_api(app)
    for module in (
        admin,
        customers,
        accounts,
        transactions,
        corridors,
        fx_rates,
        quotes,
        remittances,
        liquidity,
        reports,
        schemes,
        loans,
        portfolio,
        webhooks,
        payments,
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(_docs_assets())
    register_error_handlers(app)  # after Api: replaces its HTTPException handler

    @app.get("/healthz")
    def healthz() -> Response:
        """The process is up (no dependencies checked)."""
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Response:
        """The database answers and its schema is at the latest migration."""
        db: Database = app.extensions[DATABASE_EXTENSION]
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = current_revision(db.engine)
        except Exception as error:  # any failure means not ready; say which
            return problem(503, "database_unavailable", "Database unavailable", str(error))
        head = head_revision()
        if current != head:
            return problem(
                503,
                "migrations_pending",
                "Migrations pending",
                f"database is at {current}, code expects {head}",
            )
        return jsonify(status="ready", database=db.dialect, revision=current)

    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document exactly as GET /v1/openapi.json serves it.

    Built on an in-memory SQLite database that is never opened: describing the API
    needs no data (scripts/export_openapi.py writes it to openapi.json).
    """
    settings = Settings(database_url="sqlite://", log_requests=False)
    database = create_database(settings=settings)
    app = create_app(settings, database=database)
    response = app.test_client().get(f"{API_PREFIX}/openapi.json")
    assert response.status_code == 200, response.status
    document: dict[str, Any] = response.get_json()
    database.dispose()
    return document
