"""What a request needs from the app: its database, clock, settings and caller."""

from __future__ import annotations

from flask import current_app, g

from ledger.access.principals import PrincipalRecord
from ledger.clock import Clock
from ledger.config import Settings
from ledger.db import Database
from ledger.remittance.policy import RemittancePolicy

DATABASE_EXTENSION = "ledger.database"
CLOCK_EXTENSION = "ledger.clock"
SETTINGS_EXTENSION = "ledger.settings"
POLICY_EXTENSION = "ledger.remittance_policy"


def database() -> Database:
    return current_app.extensions[DATABASE_EXTENSION]  # type: ignore[no-any-return]


def clock() -> Clock:
    return current_app.extensions[CLOCK_EXTENSION]  # type: ignore[no-any-return]


def settings() -> Settings:
    return current_app.extensions[SETTINGS_EXTENSION]  # type: ignore[no-any-return]


def principal() -> PrincipalRecord:
    """The authenticated caller (routes other than health and docs always have one)."""
    return g.principal  # type: ignore[no-any-return]


def policy() -> RemittancePolicy:
    """The remittance time limits, from the settings (built once per app)."""
    found = current_app.extensions.get(POLICY_EXTENSION)
    if found is None:
        found = RemittancePolicy.from_settings(settings())
        current_app.extensions[POLICY_EXTENSION] = found
    return found  # type: ignore[no-any-return]
