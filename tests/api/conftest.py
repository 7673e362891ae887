"""Fixtures for API tests: the real app on a real database (SQLite, then
PostgreSQL), a fixed clock, and one principal per role plus a second partner,
each with a freshly issued key."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.app import create_app
from api.context import CLOCK_EXTENSION, DATABASE_EXTENSION
from ledger.access import create_principal, issue_key
from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.db import Database

API_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Caller:
    """A principal and its key, with helpers that add the key to requests."""

    name: str
    role: str
    id: str
    key: str
    client: FlaskClient
    _keys: Any

    def headers(self, idempotency_key: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}", **extra}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers(), **kwargs)

    def post(self, path: str, json: Any = None, *, key: str | bool | None = True, **kwargs: Any):
        """POST with a fresh Idempotency-Key (``key=True``), a given one, or none (False)."""
        idem = f"test-{next(self._keys)}" if key is True else (key or None)
        return self.client.post(path, json=json, headers=self.headers(idem), **kwargs)

    def put(self, path: str, json: Any = None, *, key: str | bool | None = False, **kwargs: Any):
        idem = f"test-{next(self._keys)}" if key is True else (key or None)
        return self.client.put(path, json=json, headers=self.headers(idem), **kwargs)


@pytest.fixture
def api_clock() -> FixedClock:
    return FixedClock(API_START)


@pytest.fixture
def api_settings() -> Settings:
    """The defaults, with rate limits high enough not to disturb functional tests."""
    return Settings(rate_limit_per_second=10_000, rate_limit_burst=10_000, log_requests=False)


@pytest.fixture(scope="session")
def _apps() -> dict[Settings, Flask]:
    return {}


@pytest.fixture
def app(
    database: Database, api_clock: FixedClock, api_settings: Settings, _apps: dict[Settings, Flask]
) -> Flask:
    """The real app, bound to this test's database and clock.

    Building the app (routes, OpenAPI spec) costs more than most tests, so one is
    built per distinct Settings and reused; nothing else in it outlives a request
    (rate-limit buckets are per API key, and every test issues new keys). Tests
    that need other settings call ``create_app`` themselves.
    """
    app = _apps.get(api_settings)
    if app is None:
        app = _apps[api_settings] = create_app(api_settings, database=database, clock=api_clock)
    app.extensions[DATABASE_EXTENSION] = database
    app.extensions[CLOCK_EXTENSION] = api_clock
    return app


@pytest.fixture
def client(app: Any) -> FlaskClient:
    return app.test_client()


def make_callers(database: Database, client: FlaskClient, clock: FixedClock) -> dict[str, Caller]:
    """admin, partner (slug partner-a), other (a second partner, partner-b), fund_manager."""
    counter = itertools.count(1)
    wanted = (
        ("admin", "root", "admin"),
        ("partner", "partner-a", "partner"),
        ("other", "partner-b", "partner"),
        ("fund_manager", "fund-manager", "fund_manager"),
    )

    def work(connection: Any) -> list[tuple[str, str]]:
        made = []
        for _, slug, role in wanted:
            record = create_principal(
                connection, slug=slug, name=slug.title(), role=role, now=clock.now()
            )
            issued = issue_key(connection, record.id, label="test", now=clock.now())
            made.append((str(record.id), issued.secret))
        return made

    return {
        name: Caller(name, role, principal_id, key, client, counter)
        for (name, _, role), (principal_id, key) in zip(wanted, database.run(work), strict=True)
    }


@pytest.fixture
def callers(database: Database, client: FlaskClient, api_clock: FixedClock) -> dict[str, Caller]:
    """admin, partner (slug partner-a), other (a second partner, partner-b), fund_manager."""
    return make_callers(database, client, api_clock)


@pytest.fixture
def admin(callers: dict[str, Caller]) -> Caller:
    return callers["admin"]


@pytest.fixture
def partner(callers: dict[str, Caller]) -> Caller:
    return callers["partner"]


@pytest.fixture
def other_partner(callers: dict[str, Caller]) -> Caller:
    return callers["other"]


@pytest.fixture
def fund_manager(callers: dict[str, Caller]) -> Caller:
    return callers["fund_manager"]


def money(amount: str, currency: str = "RUB") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def open_account(caller: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": "Wallet", "type": "liability", "currency": "RUB", **fields}
    response = caller.post("/v1/accounts", body, key=False)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def funded_pair(caller: Caller, currency: str = "RUB") -> tuple[int, int]:
    """A settlement asset that may go negative and a customer wallet, both the caller's."""
    settlement = open_account(
        caller, name="Settlement", type="asset", currency=currency, allow_overdraft=True
    )
    wallet = open_account(caller, name="Wallet", type="liability", currency=currency)
    return settlement["id"], wallet["id"]


def transfer_body(source: int, target: int, amount: str, currency: str = "RUB", **extra: Any):
    """Debit ``source``, credit ``target``."""
    return {
        "postings": [
            {"account_id": source, "direction": "debit", "amount": money(amount, currency)},
            {"account_id": target, "direction": "credit", "amount": money(amount, currency)},
        ],
        **extra,
    }


PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """``response`` is an application/problem+json ``status`` with ``code``; returns its body."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert response.mimetype == "application/problem+json", response.mimetype
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == status, body
    assert body["code"] == code, body
    assert body["type"].endswith("/" + code), body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    return body


def problem_code(response: Any) -> tuple[int, str]:
    """(status, code) of a problem response, after checking its shape; for tests that
    compare many answers at once (``{case: problem_code(...)} == {case: (404, ...)}``)."""
    assert response.mimetype == "application/problem+json", (response.status_code, response.data)
    body = response.get_json()
    assert set(body) >= PROBLEM_MEMBERS, body
    assert body["status"] == response.status_code, body
    return response.status_code, body["code"]


def balances(caller: Caller, account_id: int) -> dict[str, str]:
    """The account's posted, pending and available amounts, as decimal strings."""
    response = caller.get(f"/v1/accounts/{account_id}")
    assert response.status_code == 200, response.get_json()
    return {name: value["amount"] for name, value in response.get_json()["balances"].items()}


def list_all(caller: Caller, path: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint, walking its pages (1,000 at a time)."""
    items: list[dict[str, Any]] = []
    separator = "&" if "?" in path else "?"
    url = f"{path}{separator}limit=1000"
    while True:
        response = caller.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items.extend(body["data"])
        if not body["has_more"]:
            return items
        url = f"{path}{separator}limit=1000&starting_after={body['next_cursor']}"


def transaction_count(caller: Caller) -> int:
    return len(list_all(caller, "/v1/transactions"))


def fund(caller: Caller, settlement: int, wallet: int, amount: str, currency: str = "RUB") -> dict:
    """Credit ``wallet`` from ``settlement`` (posted); returns the transaction."""
    response = caller.post("/v1/transactions", transfer_body(settlement, wallet, amount, currency))
    assert response.status_code == 201, response.get_json()
    return response.get_json()
