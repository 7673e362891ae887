"""Schemathesis against /v1/openapi.json on the live app (SQLite, then PostgreSQL).

Every operation is called with generated requests, valid and invalid, as a partner
(customers, accounts, transactions, /me) or as an admin (principals, keys, /me);
each response must not be a 5xx, must have a documented status code and content
type, and must match the documented schema (problems included); invalid requests
must be refused, and successful ones must need the key (see CHECKS). Accounts, a
posted transfer, a hold and a customer exist first, and about half the generated
ids are pointed at them, so requests get past lookups. After each operation's
run, conftest checks the journal's invariants.

Bounded for the suite (15 examples per operation, derandomized, so a failure
reproduces); scripts/fuzz_api.py runs the same with many more examples.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from ledger.config import Settings
from tests.api.conftest import Caller, funded_pair, open_account, transfer_body

SCHEMA_PATH = "/v1/openapi.json"

#: The checks every response must pass. Besides conformance to the document:
#: invalid data is refused with a 4xx (negative_data_rejection); a 2xx turns into
#: a 401 without the key or with a wrong one (ignored_auth, which re-sends it); a
#: missing required header is refused (missing_required_header, coverage phase).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
    missing_required_header,
]

#: scripts/fuzz_api.py sets these for a longer run; the suite uses the defaults.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"  # else derandomized: a failure reproduces
COVERAGE_PHASE = os.environ.get("FUZZ_COVERAGE") == "1"

#: Valid and invalid data. The coverage phase (boundary values of every field) is
#: off in the suite: its case count is not bounded by max_examples.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "with-security-parameters": False},
        "phases": {"coverage": {"enabled": COVERAGE_PHASE}},
    }
)

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def load_schema() -> Any:
    """The schema as the app serves it (no database needed to describe the API)."""
    app = create_app(Settings(database_url="sqlite://", log_requests=False))
    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, app, config=CONFIG)


schema = load_schema()


def aim(case: Any, known: dict[str, list[str]]) -> None:
    """Point about half the generated ids at rows that exist (random UUIDs never
    would), so handlers get past their lookups: captures and voids of real holds,
    reversals of real transactions, keys issued to real principals."""
    parameters = case.path_parameters or {}
    for name, ids in known.items():
        value = parameters.get(name)
        if isinstance(value, str) and value[:1] in "01234567":
            parameters[name] = ids[int(value[:1]) % len(ids)]


@pytest.fixture
def partner_rows(partner: Caller) -> dict[str, list[str]]:
    """A funded pair of accounts (small ids), a posted transfer, a hold, a customer."""
    settlement, wallet = funded_pair(partner)
    posted = partner.post("/v1/transactions", transfer_body(settlement, wallet, "100.00"))
    hold = partner.post(
        "/v1/transactions", transfer_body(wallet, settlement, "30.00", pending=True)
    )
    customer = partner.post(
        "/v1/customers",
        {"external_id": "c-1", "full_name": "Farrukh R", "country": "TJ", "kind": "migrant"},
        key=False,
    )
    assert (posted.status_code, hold.status_code, customer.status_code) == (201, 201, 201)
    open_account(partner, name="Customer wallet", customer_id=customer.get_json()["id"])
    return {
        "transaction_id": [posted.get_json()["id"], hold.get_json()["id"]],
        "customer_id": [customer.get_json()["id"]],
    }


@pytest.fixture
def admin_rows(admin: Caller, partner: Caller) -> dict[str, list[str]]:
    """The principals, and the partner's key (never the admin's: the run needs it)."""
    partner_key_id = str(uuid.UUID(hex=partner.key.split("_")[1]))
    return {"principal_id": [admin.id, partner.id], "key_id": [partner_key_id]}


@schema.exclude(tag="admin").exclude(path="/v1/integrations/stripe/webhooks").parametrize()
@FUZZ
def test_partner_operations_conform_to_the_schema(
    case: Any, app: Any, partner: Caller, partner_rows: dict[str, list[str]]
) -> None:
    aim(case, partner_rows)
    headers = {"Authorization": f"Bearer {partner.key}"}
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


@schema.include(tag="admin").parametrize()
@FUZZ
def test_admin_operations_conform_to_the_schema(
    case: Any, app: Any, admin: Caller, admin_rows: dict[str, list[str]]
) -> None:
    aim(case, admin_rows)
    headers = {"Authorization": f"Bearer {admin.key}"}
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


@schema.include(path_regex=r"^/v1/(corridors|fx-rates|partners/|reports/)").parametrize()
@FUZZ
def test_remittance_administration_conforms_to_the_schema(
    case: Any, app: Any, admin: Caller, partner: Caller
) -> None:
    """Corridors, mid-rates, partners' liquidity and reports as an administrator, with
    about half the partner ids pointed at a real partner."""
    aim(case, {"partner_id": [partner.id]})
    headers = {"Authorization": f"Bearer {admin.key}"}
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


@schema.include(
    path_regex=r"^/v1/(schemes|loan-applications|loans|schedule-previews|portfolio)"
).parametrize()
@FUZZ
def test_credit_operations_conform_to_the_schema_for_a_fund_manager(
    case: Any, app: Any, fund_manager: Caller
) -> None:
    headers = {"Authorization": f"Bearer {fund_manager.key}"}
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)


@schema.include(path="/v1/integrations/stripe/webhooks").parametrize()
@FUZZ
def test_stripe_webhook_refuses_whatever_is_not_signed(case: Any, app: Any) -> None:
    """With Stripe configured, any generated body (none is signed) is a 400, never a
    500."""
    from api.resources.payments import PROVIDERS_EXTENSION
    from integrations.providers.registry import build_providers
    from tests.stripe_fake import FakeStripe

    configured = Settings(stripe_api_key="sk_test_fake", stripe_webhook_secret="whsec_fuzz")
    original = app.extensions[PROVIDERS_EXTENSION]
    app.extensions[PROVIDERS_EXTENSION] = build_providers(
        configured,
        stripe_http_client=FakeStripe(now=lambda: None),  # never called
    )
    try:
        response = case.call(app=app)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_signature"
    finally:
        app.extensions[PROVIDERS_EXTENSION] = original
