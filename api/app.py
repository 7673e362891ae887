"""The Flask application factory. No engine or app exists at import time."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from sqlalchemy import text

from api.errors import problem, register_error_handlers
from ledger.config import Settings
from ledger.db import Database, create_database
from ledger.migrations import current_revision, head_revision

DATABASE_EXTENSION = "ledger.database"


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    """Build the app for ``settings`` (default: the environment)."""
    settings = settings or Settings.from_environment()
    app = Flask(__name__)
    app.extensions[DATABASE_EXTENSION] = database or create_database(settings=settings)
    register_error_handlers(app)

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
