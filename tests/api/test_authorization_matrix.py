"""Who may call what: every endpoint x every role, and one partner against another.

* Without a key: 401 ``unauthenticated``, whatever the endpoint.
* With the wrong role: 403 ``forbidden`` (before the body, the ids or the
  Idempotency-Key are looked at).
* With the right role: the endpoint's own answer (never 401 or 403).
* Partner A asking about partner B's customer, account or transaction gets the
  404 a missing id gets, on every read and write path, and nothing is written.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.journal import check_invariants
from tests.api.conftest import (
    API_START,
    assert_problem,
    balances,
    fund,
    funded_pair,
    make_callers,
    money,
    open_account,
    transaction_count,
    transfer_body,
)
from tests.conftest import DATABASES, _open

MISSING_UUID = str(uuid.UUID(int=0x0123456789ABCDEF))
MISSING_ACCOUNT = 987_654
AS_OF = "2026-11-02T09:00:00Z"

PRINCIPAL = {"slug": "someone-new", "name": "Someone", "role": "partner"}
CUSTOMER = {"external_id": "c-1", "full_name": "Farrukh R", "country": "TJ", "kind": "migrant"}
ACCOUNT = {"name": "Wallet", "type": "liability", "currency": "RUB"}
TRANSFER = transfer_body(MISSING_ACCOUNT, MISSING_ACCOUNT + 1, "1.00")
MISSING_CORRIDOR = "ZZ-ZZZ-ZZ-ZZZ"
MISSING_CURRENCY = "ZZZ"
PERIOD = "from=2026-11-01&to=2026-11-02"
CORRIDOR = {
    "send_country": "RU",
    "send_currency": "RUB",
    "receive_country": "TJ",
    "receive_currency": "TJS",
}
PRICE = {
    "tiers": [{"from_amount": money("0.00"), "fixed": money("0.00"), "percentage": "0.01"}],
    "fx_margin": "0.004",
}
RATES = {
    "rates": [
        {"date": "2026-11-02", "source": "cbr", "base": "RUB", "quote": "TJS", "mid_rate": "0.12"}
    ]
}
REMITTANCE = {
    "partner_reference": "R-1",
    "corridor": MISSING_CORRIDOR,
    "sender": {"name": "A", "country": "RU"},
    "beneficiary": {"customer_id": MISSING_UUID},
    "send_amount": money("100.00"),
    "fee": money("1.00"),
    "rate": "0.12",
}
ANY = ("admin", "partner", "fund_manager")
SCHEME = {"slug": "matrix", "name": "Matrix fund", "currency": "TJS", "country": "TJ"}
PRODUCT = {
    "name": "P",
    "min_amount": money("100.00", "TJS"),
    "max_amount": money("1000.00", "TJS"),
    "min_installments": 3,
    "max_installments": 12,
    "annual_rate_percent": "24",
}
PREVIEW = {
    "terms": {"annual_rate_percent": "24"},
    "amount": money("1000.00", "TJS"),
    "installments": 6,
}
APPLICATION = {
    "customer_id": MISSING_UUID,
    "scheme_id": MISSING_UUID,
    "product_id": MISSING_UUID,
    "amount": money("1000.00", "TJS"),
    "installments": 6,
    "purpose": "p",
    "description": "d",
}

# (method, path, body, roles allowed, status and code for an allowed role)
ENDPOINTS: list[tuple[str, str, Any, tuple[str, ...], int, str | None]] = [
    ("GET", "/v1/me", None, ("admin", "partner", "fund_manager"), 200, None),
    ("POST", "/v1/principals", PRINCIPAL, ("admin",), 201, None),
    ("GET", "/v1/principals", None, ("admin",), 200, None),
    ("GET", f"/v1/principals/{MISSING_UUID}", None, ("admin",), 404, "principal_not_found"),
    (
        "POST",
        f"/v1/principals/{MISSING_UUID}/keys",
        {"label": "x"},
        ("admin",),
        404,
        "principal_not_found",
    ),
    ("GET", f"/v1/principals/{MISSING_UUID}/keys", None, ("admin",), 404, "principal_not_found"),
    ("POST", f"/v1/api-keys/{MISSING_UUID}/revoke", None, ("admin",), 404, "api_key_not_found"),
    ("POST", "/v1/customers", CUSTOMER, ("partner",), 201, None),
    ("GET", "/v1/customers", None, ("partner",), 200, None),
    ("GET", f"/v1/customers/{MISSING_UUID}", None, ("partner",), 404, "customer_not_found"),
    ("POST", "/v1/accounts", ACCOUNT, ("partner",), 201, None),
    ("GET", "/v1/accounts", None, ("partner",), 200, None),
    ("GET", f"/v1/accounts/{MISSING_ACCOUNT}", None, ("partner",), 404, "account_not_found"),
    (
        "GET",
        f"/v1/accounts/{MISSING_ACCOUNT}/balance?as_of={AS_OF}",
        None,
        ("partner",),
        404,
        "account_not_found",
    ),
    (
        "GET",
        f"/v1/accounts/{MISSING_ACCOUNT}/statement",
        None,
        ("partner",),
        404,
        "account_not_found",
    ),
    (
        "POST",
        f"/v1/accounts/{MISSING_ACCOUNT}/close",
        None,
        ("partner",),
        404,
        "account_not_found",
    ),
    ("POST", "/v1/transactions", TRANSFER, ("partner",), 404, "account_not_found"),
    ("GET", "/v1/transactions", None, ("partner",), 200, None),
    ("GET", f"/v1/transactions/{MISSING_UUID}", None, ("partner",), 404, "transaction_not_found"),
    (
        "POST",
        "/v1/transactions/batch",
        {"transactions": [TRANSFER]},
        ("partner",),
        422,
        "batch_rejected",
    ),
    (
        "POST",
        f"/v1/transactions/{MISSING_UUID}/post",
        {},
        ("partner",),
        404,
        "transaction_not_found",
    ),
    (
        "POST",
        f"/v1/transactions/{MISSING_UUID}/void",
        None,
        ("partner",),
        404,
        "transaction_not_found",
    ),
    (
        "POST",
        f"/v1/transactions/{MISSING_UUID}/reverse",
        {},
        ("partner",),
        404,
        "transaction_not_found",
    ),
    # remittances (issue 4)
    ("POST", "/v1/corridors", CORRIDOR, ("admin",), 201, None),
    ("GET", "/v1/corridors", None, ANY, 200, None),
    ("GET", f"/v1/corridors/{MISSING_CORRIDOR}", None, ANY, 404, "corridor_not_found"),
    (
        "PUT",
        f"/v1/corridors/{MISSING_CORRIDOR}/pricing",
        PRICE,
        ("partner",),
        404,
        "corridor_not_found",
    ),
    (
        "GET",
        f"/v1/corridors/{MISSING_CORRIDOR}/pricing",
        None,
        ("partner",),
        404,
        "corridor_not_found",
    ),
    ("POST", "/v1/fx-rates", RATES, ("admin",), 201, None),
    ("GET", "/v1/fx-rates", None, ANY, 200, None),
    (
        "POST",
        "/v1/quotes",
        {"corridor": MISSING_CORRIDOR, "send_amount": money("1.00")},
        ("partner",),
        404,
        "corridor_not_found",
    ),
    ("GET", f"/v1/quotes/{MISSING_UUID}", None, ("partner",), 404, "quote_not_found"),
    ("POST", "/v1/remittances", REMITTANCE, ("partner",), 404, "corridor_not_found"),
    ("GET", "/v1/remittances", None, ("partner",), 200, None),
    ("GET", f"/v1/remittances/{MISSING_UUID}", None, ("partner",), 404, "remittance_not_found"),
    (
        "POST",
        f"/v1/remittances/{MISSING_UUID}/complete",
        None,
        ("partner",),
        404,
        "remittance_not_found",
    ),
    (
        "POST",
        f"/v1/remittances/{MISSING_UUID}/fail",
        {"reason": "x"},
        ("partner",),
        404,
        "remittance_not_found",
    ),
    (
        "GET",
        f"/v1/customers/{MISSING_UUID}/remittance-history",
        None,
        ("partner",),
        404,
        "customer_not_found",
    ),
    ("POST", "/v1/remittance-imports", None, ("partner",), 415, "unsupported_media_type"),
    (
        "GET",
        f"/v1/remittance-imports/{MISSING_UUID}",
        None,
        ("partner",),
        404,
        "import_not_found",
    ),
    ("GET", "/v1/liquidity", None, ("partner",), 200, None),
    (
        "GET",
        f"/v1/liquidity/{MISSING_CURRENCY}/statement?{PERIOD}",
        None,
        ("partner",),
        422,
        "liquidity_not_configured",
    ),
    (
        "GET",
        f"/v1/partners/{MISSING_UUID}/liquidity",
        None,
        ("admin", "fund_manager"),
        404,
        "principal_not_found",
    ),
    (
        "PUT",
        f"/v1/partners/{MISSING_UUID}/liquidity/{MISSING_CURRENCY}",
        {"net_debit_cap": money("1.00", MISSING_CURRENCY)},
        ("admin",),
        422,
        "unknown_currency",
    ),
    (
        "POST",
        f"/v1/partners/{MISSING_UUID}/liquidity/{MISSING_CURRENCY}/adjustments",
        {"kind": "top_up", "amount": money("1.00", MISSING_CURRENCY), "reference": "T"},
        ("admin",),
        422,
        "unknown_currency",
    ),
    (
        "GET",
        f"/v1/partners/{MISSING_UUID}/liquidity/{MISSING_CURRENCY}/statement?{PERIOD}",
        None,
        ("admin", "fund_manager"),
        404,
        "principal_not_found",
    ),
    ("GET", f"/v1/reports/corridor-costs?{PERIOD}", None, ANY, 200, None),
    # credit (issue 5)
    ("POST", "/v1/schemes", SCHEME, ("fund_manager",), 201, None),
    ("GET", "/v1/schemes", None, ANY, 200, None),
    ("GET", f"/v1/schemes/{MISSING_UUID}", None, ANY, 404, "scheme_not_found"),
    (
        "GET",
        f"/v1/schemes/{MISSING_UUID}/position",
        None,
        ("admin", "fund_manager"),
        404,
        "scheme_not_found",
    ),
    (
        "POST",
        f"/v1/schemes/{MISSING_UUID}/matching-rules",
        {"sponsor_name": "S", "ratio": "1", "cap": money("1.00", "TJS")},
        ("fund_manager",),
        404,
        "scheme_not_found",
    ),
    (
        "POST",
        f"/v1/schemes/{MISSING_UUID}/contributions",
        {"reference": "C", "investor_name": "I", "amount": money("1.00", "TJS")},
        ("fund_manager",),
        404,
        "scheme_not_found",
    ),
    (
        "GET",
        f"/v1/schemes/{MISSING_UUID}/contributions",
        None,
        ("admin", "fund_manager"),
        404,
        "scheme_not_found",
    ),
    (
        "POST",
        f"/v1/schemes/{MISSING_UUID}/contributions/{MISSING_UUID}/receive",
        None,
        ("fund_manager",),
        404,
        "scheme_not_found",
    ),
    (
        "POST",
        f"/v1/schemes/{MISSING_UUID}/products",
        PRODUCT,
        ("fund_manager",),
        404,
        "scheme_not_found",
    ),
    ("GET", f"/v1/schemes/{MISSING_UUID}/products", None, ANY, 404, "scheme_not_found"),
    ("POST", "/v1/schedule-previews", PREVIEW, ANY, 200, None),
    (
        "POST",
        "/v1/loan-applications",
        APPLICATION,
        ("partner",),
        404,
        "scheme_not_found",
    ),
    ("GET", "/v1/loan-applications", None, ("admin", "partner", "fund_manager"), 200, None),
    (
        "GET",
        f"/v1/loan-applications/{MISSING_UUID}",
        None,
        ANY,
        404,
        "application_not_found",
    ),
    (
        "POST",
        f"/v1/loan-applications/{MISSING_UUID}/approve",
        {},
        ("fund_manager",),
        404,
        "application_not_found",
    ),
    (
        "POST",
        f"/v1/loan-applications/{MISSING_UUID}/decline",
        {},
        ("fund_manager",),
        404,
        "application_not_found",
    ),
    (
        "POST",
        f"/v1/loan-applications/{MISSING_UUID}/cancel",
        {},
        ("partner", "fund_manager"),
        404,
        "application_not_found",
    ),
    (
        "POST",
        f"/v1/loan-applications/{MISSING_UUID}/disburse",
        {},
        ("fund_manager",),
        404,
        "application_not_found",
    ),
    ("GET", "/v1/loans", None, ANY, 200, None),
    ("GET", f"/v1/loans/{MISSING_UUID}", None, ANY, 404, "loan_not_found"),
    (
        "POST",
        f"/v1/loans/{MISSING_UUID}/repayments",
        {"amount": money("1.00", "TJS"), "reference": "R"},
        ("partner",),
        404,
        "loan_not_found",
    ),
    (
        "PUT",
        f"/v1/loans/{MISSING_UUID}/sweep",
        {"percent": "0.1"},
        ("partner",),
        404,
        "loan_not_found",
    ),
    (
        "POST",
        f"/v1/loans/{MISSING_UUID}/write-off",
        {"reason": "x"},
        ("fund_manager",),
        404,
        "loan_not_found",
    ),
    ("GET", f"/v1/portfolio?scheme={MISSING_UUID}", None, ANY, 404, "scheme_not_found"),
    (
        "GET",
        f"/v1/portfolio/history?scheme={MISSING_UUID}",
        None,
        ("admin", "fund_manager"),
        404,
        "scheme_not_found",
    ),
    (
        "GET",
        f"/v1/portfolio/loan-tape?scheme={MISSING_UUID}",
        None,
        ANY,
        404,
        "scheme_not_found",
    ),
    (
        "GET",
        f"/v1/schemes/{MISSING_UUID}/provisioning",
        None,
        ("admin", "fund_manager"),
        404,
        "scheme_not_found",
    ),
    (
        "PUT",
        f"/v1/schemes/{MISSING_UUID}/provisioning",
        {"rates": {"current": "1"}},
        ("fund_manager",),
        404,
        "scheme_not_found",
    ),
    (
        "POST",
        f"/v1/principals/{MISSING_UUID}/platform-fees",
        {"percent": "0.25", "starts_on": "2026-11-01"},
        ("admin",),
        404,
        "principal_not_found",
    ),
    (
        "GET",
        f"/v1/principals/{MISSING_UUID}/platform-fees",
        None,
        ("admin",),
        404,
        "principal_not_found",
    ),
    ("GET", "/v1/job-runs", None, ("admin",), 200, None),
    ("GET", "/v1/payment-providers", None, ANY, 200, None),
    (
        "POST",
        f"/v1/schemes/{MISSING_UUID}/contributions/{MISSING_UUID}/collections",
        {"provider": "bank_transfer"},
        ("fund_manager",),
        404,
        "scheme_not_found",
    ),
    (
        "POST",
        f"/v1/schemes/{MISSING_UUID}/bank-statements",
        {"not": "csv"},
        ("fund_manager",),
        415,
        "unsupported_media_type",
    ),
    ("GET", "/v1/integrations/stripe/events", None, ("admin",), 200, None),
    (
        "GET",
        f"/v1/integrations/stripe/payouts/{MISSING_UUID}/reconciliation",
        None,
        ("admin",),
        404,
        "payout_not_found",
    ),
    (
        "POST",
        "/v1/webhook-endpoints",
        {"url": "ftp://nowhere", "events": ["*"]},
        ("partner", "fund_manager"),
        422,
        "validation_error",
    ),
    ("GET", "/v1/webhook-endpoints", None, ("partner", "fund_manager"), 200, None),
    (
        "POST",
        f"/v1/webhook-endpoints/{MISSING_UUID}/disable",
        None,
        ("partner", "fund_manager"),
        404,
        "webhook_endpoint_not_found",
    ),
    (
        "POST",
        f"/v1/webhook-endpoints/{MISSING_UUID}/enable",
        None,
        ("partner", "fund_manager"),
        404,
        "webhook_endpoint_not_found",
    ),
    ("GET", "/v1/webhook-deliveries", None, ("partner", "fund_manager"), 200, None),
    (
        "GET",
        f"/v1/webhook-deliveries/{MISSING_UUID}",
        None,
        ("partner", "fund_manager"),
        404,
        "webhook_delivery_not_found",
    ),
    (
        "POST",
        f"/v1/webhook-deliveries/{MISSING_UUID}/replay",
        None,
        ("partner", "fund_manager"),
        404,
        "webhook_delivery_not_found",
    ),
]

ROLES = ["admin", "partner", "fund_manager", None]


def _id(endpoint: tuple) -> str:
    method, path = endpoint[0], endpoint[1].split("?")[0]
    for missing in (MISSING_UUID, str(MISSING_ACCOUNT), MISSING_CORRIDOR, MISSING_CURRENCY):
        path = path.replace(missing, "{id}")
    return f"{method} {path}"


def call(client, method: str, path: str, body: Any, headers: dict[str, str]):
    if method == "GET":
        return client.get(path, headers=headers)
    if method == "PUT":
        return client.put(path, json=body, headers=headers)
    return client.post(path, json=body, headers=headers)


def test_the_matrix_covers_every_route_of_the_app(app):
    """A new endpoint cannot be added without a row here."""
    public = {
        "/healthz",
        "/readyz",
        "/v1/openapi.json",
        "/v1/docs",
        "/v1/docs/assets/<path:filename>",
        "/v1/integrations/stripe/webhooks",  # signed by Stripe: tests/api/test_payments_api.py
    }
    routes = {
        (method, re.sub(r"<[^>]+>", "{id}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule not in public and not rule.rule.startswith("/static")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == {tuple(_id(e).split(" ", 1)) for e in ENDPOINTS}


@pytest.fixture(scope="module", params=DATABASES)
def world(request, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """One database, app and set of callers for the whole matrix, on each database.

    The matrix's 92 cases per database change almost nothing (a refused request
    writes nothing; each allowed one runs once), so they share one database
    instead of paying for a fresh one each; the invariants are checked at the end.
    """
    database = _open(request.param, request, tmp_path_factory.mktemp("matrix"))
    clock = FixedClock(API_START)
    settings = Settings(rate_limit_per_second=10_000, rate_limit_burst=10_000, log_requests=False)
    client = create_app(settings, database=database, clock=clock).test_client()
    yield {"client": client, "callers": make_callers(database, client, clock)}
    assert database.run(check_invariants) == []
    database.dispose()


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no key")
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_each_role_gets_exactly_its_endpoints(world, endpoint, role):
    method, path, body, allowed, status, code = endpoint
    if role is None:
        headers = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    else:
        caller = next(c for c in world["callers"].values() if c.role == role)
        headers = caller.headers(f"k-{uuid.uuid4().hex}")
    response = call(world["client"], method, path, body, headers)
    if role is None:
        assert_problem(response, 401, "unauthenticated")
    elif role not in allowed:
        problem = assert_problem(response, 403, "forbidden")
        assert role in problem["detail"]
    else:
        assert response.status_code == status, response.get_json()
        if code is not None:
            assert_problem(response, status, code)


@pytest.mark.parametrize("role", ["admin", "fund_manager"])
def test_the_role_is_checked_before_the_idempotency_key_and_the_body(client, callers, role):
    headers = callers[role].headers()  # no Idempotency-Key, and an invalid body
    assert_problem(
        client.post("/v1/transactions", json={"x": 1}, headers=headers), 403, "forbidden"
    )


def test_a_wrong_role_writes_nothing(client, admin, fund_manager, partner):
    response = client.post("/v1/customers", json=CUSTOMER, headers=admin.headers())
    assert_problem(response, 403, "forbidden")
    response = client.post("/v1/principals", json=PRINCIPAL, headers=fund_manager.headers())
    assert_problem(response, 403, "forbidden")
    assert partner.get("/v1/customers").get_json()["data"] == []
    slugs = [p["slug"] for p in admin.get("/v1/principals").get_json()["data"]]
    assert "someone-new" not in slugs


# ------------------------------------------------------------ partner vs partner


@pytest.fixture
def theirs(other_partner) -> dict[str, Any]:
    """Partner B's book: a customer, accounts, a posted and a pending transaction."""
    customer = other_partner.post("/v1/customers", CUSTOMER, key=False).get_json()
    settlement, _ = funded_pair(other_partner)
    wallet = open_account(other_partner, customer_id=customer["id"])["id"]
    empty = open_account(other_partner, name="Empty")["id"]
    posted = fund(other_partner, settlement, wallet, "100.00")
    hold = transfer_body(wallet, settlement, "10.00", pending=True)
    pending = other_partner.post("/v1/transactions", hold).get_json()
    return {
        "customer": customer["id"],
        "settlement": settlement,
        "wallet": wallet,
        "empty": empty,
        "posted": posted["id"],
        "pending": pending["id"],
    }


@pytest.fixture
def ours(partner) -> dict[str, Any]:
    """Partner A's own accounts and a hold of its own."""
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "50.00")
    hold = partner.post("/v1/transactions", transfer_body(wallet, settlement, "5.00", pending=True))
    return {"settlement": settlement, "wallet": wallet, "pending": hold.get_json()["id"]}


def state(partner, other_partner, theirs, ours) -> dict[str, Any]:
    """Everything either partner can see that a leaked write would change."""
    b_accounts = ("settlement", "wallet", "empty")
    return {
        "b_balances": {k: balances(other_partner, theirs[k]) for k in b_accounts},
        "b_status": {
            k: other_partner.get(f"/v1/accounts/{theirs[k]}").get_json()["status"]
            for k in b_accounts
        },
        "b_transactions": [
            other_partner.get(f"/v1/transactions/{theirs[k]}").get_json()
            for k in ("posted", "pending")
        ],
        "b_count": transaction_count(other_partner),
        "a_balances": {k: balances(partner, ours[k]) for k in ("settlement", "wallet")},
        "a_count": transaction_count(partner),
        "a_accounts": len(partner.get("/v1/accounts").get_json()["data"]),
    }


def posting_on(account: str, direction: str, amount: str = "1.00") -> dict[str, Any]:
    return {"account_id": account, "direction": direction, "amount": money(amount)}


# Reads: (path, code). "{name}" is B's id, or a missing one; a read changes nothing.
CROSS_READS = {
    "read customer": ("/v1/customers/{customer}", "customer_not_found"),
    "read account": ("/v1/accounts/{wallet}", "account_not_found"),
    "balance as of": ("/v1/accounts/{wallet}/balance?as_of=" + AS_OF, "account_not_found"),
    "statement": ("/v1/accounts/{wallet}/statement", "account_not_found"),
    "transactions by account": ("/v1/transactions?account_id={wallet}", "account_not_found"),
    "transactions by customer": ("/v1/transactions?customer_id={customer}", "customer_not_found"),
    "read transaction": ("/v1/transactions/{posted}", "transaction_not_found"),
    "read hold": ("/v1/transactions/{pending}", "transaction_not_found"),
}

# Writes: (path, body, code); "{a:name}" is A's own id.
CROSS_WRITES = {
    "close account": ("/v1/accounts/{empty}/close", None, "account_not_found"),
    "post hold in full": ("/v1/transactions/{pending}/post", {}, "transaction_not_found"),
    "post hold in part": (
        "/v1/transactions/{pending}/post",
        {"amount": money("1.00")},
        "transaction_not_found",
    ),
    "void hold": ("/v1/transactions/{pending}/void", None, "transaction_not_found"),
    "reverse": ("/v1/transactions/{posted}/reverse", {}, "transaction_not_found"),
    "open account for their customer": (
        "/v1/accounts",
        {**ACCOUNT, "customer_id": "{customer}"},
        "customer_not_found",
    ),
    "credit their account from ours": (
        "/v1/transactions",
        {"postings": [posting_on("{a:settlement}", "debit"), posting_on("{wallet}", "credit")]},
        "account_not_found",
    ),
    "debit their account into ours": (
        "/v1/transactions",
        {"postings": [posting_on("{wallet}", "debit"), posting_on("{a:wallet}", "credit")]},
        "account_not_found",
    ),
    "hold on their account": (
        "/v1/transactions",
        {
            "postings": [posting_on("{wallet}", "debit"), posting_on("{a:wallet}", "credit")],
            "pending": True,
        },
        "account_not_found",
    ),
    "capture our hold onto their accounts": (
        "/v1/transactions/{a:pending}/post",
        {"postings": [posting_on("{wallet}", "debit"), posting_on("{settlement}", "credit")]},
        "validation_error",
    ),
}

MISSING = {
    "customer": MISSING_UUID,
    "wallet": MISSING_ACCOUNT,
    "settlement": MISSING_ACCOUNT + 1,
    "empty": MISSING_ACCOUNT + 2,
    "posted": MISSING_UUID,
    "pending": MISSING_UUID,
}


def fill(template: Any, ids: dict[str, Any], ours: dict[str, Any]) -> Any:
    """Replace "{name}" by ids[name] and "{a:name}" by ours[name], keeping ints ints."""
    if isinstance(template, dict):
        return {k: fill(v, ids, ours) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, ids, ours) for v in template]
    if isinstance(template, str):
        whole = re.fullmatch(r"\{(a:)?(\w+)\}", template)
        if whole:
            return (ours if whole.group(1) else ids)[whole.group(2)]
        return re.sub(
            r"\{(a:)?(\w+)\}",
            lambda m: str((ours if m.group(1) else ids)[m.group(2)]),
            template,
        )
    return template


def comparable(body: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
    """A problem with the ids it names replaced, so B's and a missing one compare."""
    text = body["detail"]
    for value in ids.values():
        text = re.sub(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", "<id>", text)
    return {
        "status": body["status"],
        "code": body["code"],
        "title": body["title"],
        "type": body["type"],
        "detail": text,
        "members": sorted(body),
    }


def test_another_partners_ids_read_like_missing_ones(partner, other_partner, theirs, ours):
    answers, expected = {}, {}
    for name, (path, code) in CROSS_READS.items():
        problems = [partner.get(fill(path, ids, ours)) for ids in (theirs, MISSING)]
        answers[name] = [
            comparable(assert_problem(r, 404, code), ids)
            for r, ids in zip(problems, (theirs, MISSING), strict=True)
        ]
        expected[name] = [answers[name][1]] * 2
    assert answers == expected


def test_filtering_accounts_by_another_partners_customer_is_like_a_missing_one(partner, theirs):
    foreign = partner.get(f"/v1/accounts?customer_id={theirs['customer']}")
    missing = partner.get(f"/v1/accounts?customer_id={MISSING['customer']}")
    assert comparable(assert_problem(foreign, 404, "customer_not_found"), theirs) == comparable(
        assert_problem(missing, 404, "customer_not_found"), MISSING
    )


@pytest.mark.parametrize("name", list(CROSS_WRITES))
def test_another_partners_ids_write_like_missing_ones_and_nothing_changes(
    partner, other_partner, theirs, ours, name
):
    path, body, code = CROSS_WRITES[name]
    status = 422 if code == "validation_error" else 404
    before = state(partner, other_partner, theirs, ours)
    problems = []
    for ids in (theirs, MISSING):
        response = partner.post(fill(path, ids, ours), fill(body, ids, ours))
        problems.append(comparable(assert_problem(response, status, code), ids))
    assert problems[0] == problems[1]
    assert state(partner, other_partner, theirs, ours) == before


def test_a_batch_touching_another_partners_account_is_rejected_whole(
    partner, other_partner, theirs, ours
):
    before = state(partner, other_partner, theirs, ours)
    body = {
        "transactions": [
            transfer_body(ours["settlement"], ours["wallet"], "1.00"),
            transfer_body(ours["settlement"], theirs["wallet"], "1.00"),
        ]
    }
    problem = assert_problem(partner.post("/v1/transactions/batch", body), 422, "batch_rejected")
    assert [(e["index"], e["code"]) for e in problem["errors"]] == [(1, "account_not_found")]
    assert state(partner, other_partner, theirs, ours) == before


def test_lists_show_only_the_callers_own_rows(partner, other_partner, theirs, ours):
    assert partner.get("/v1/customers").get_json()["data"] == []
    ours_ids = {a["id"] for a in partner.get("/v1/accounts").get_json()["data"]}
    assert ours_ids == {ours["settlement"], ours["wallet"]}
    listed = {t["id"] for t in partner.get("/v1/transactions").get_json()["data"]}
    assert listed.isdisjoint({theirs["posted"], theirs["pending"]})
    assert len(listed) == 2


def test_the_same_external_id_is_independent_between_partners(partner, other_partner, theirs):
    response = partner.post("/v1/customers", CUSTOMER, key=False)
    assert response.status_code == 201
    assert response.get_json()["id"] != theirs["customer"]


def test_a_replayed_response_is_never_served_to_another_partner(partner, other_partner):
    a_settlement, a_wallet = funded_pair(partner)
    first = partner.post("/v1/transactions", transfer_body(a_settlement, a_wallet, "3.00"), key="k")
    second = other_partner.post(
        "/v1/transactions", transfer_body(a_settlement, a_wallet, "3.00"), key="k"
    )
    assert first.status_code == 201
    assert_problem(second, 404, "account_not_found")
    assert "Idempotent-Replayed" not in second.headers
    assert transaction_count(other_partner) == 0
