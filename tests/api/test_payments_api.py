"""Payment providers through the API on both databases: a fund manager collects a
contribution through Stripe (the real SDK, a local HTTP client for Stripe's servers),
Stripe's signed event arrives at the public webhook, a bad signature is refused; an
admin reconciles the payout; without keys Stripe says it is unavailable; a bank
statement books what matches and reports the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.app import create_app
from api.context import CLOCK_EXTENSION, DATABASE_EXTENSION
from api.resources.payments import PROVIDERS_EXTENSION
from integrations.providers.registry import build_providers
from ledger.config import Settings
from tests.api.conftest import assert_problem, money
from tests.stripe_fake import FakeStripe, signed

SECRET = "whsec_api_test_only"
STRIPE_SETTINGS = Settings(
    rate_limit_per_second=10_000,
    rate_limit_burst=10_000,
    log_requests=False,
    stripe_api_key="sk_test_fake",
    stripe_webhook_secret=SECRET,
)
WEBHOOK = "/v1/integrations/stripe/webhooks"


@pytest.fixture
def fake(api_clock):
    return FakeStripe(now=api_clock.now)


@pytest.fixture
def app(database, api_clock, _apps, fake):
    """The real app with Stripe configured and the fake as its SDK's transport."""
    app = _apps.get(STRIPE_SETTINGS)
    if app is None:
        app = _apps[STRIPE_SETTINGS] = create_app(
            STRIPE_SETTINGS, database=database, clock=api_clock
        )
    app.extensions[DATABASE_EXTENSION] = database
    app.extensions[CLOCK_EXTENSION] = api_clock
    app.extensions[PROVIDERS_EXTENSION] = build_providers(STRIPE_SETTINGS, stripe_http_client=fake)
    return app


@pytest.fixture
def scheme(fund_manager):
    created = fund_manager.post(
        "/v1/schemes",
        {
            "slug": "kg-fund",
            "name": "Kyrgyz Diaspora Fund",
            "currency": "KGS",
            "country": "KG",
            "first_loss_percent": "10",
        },
        key=False,
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def pledge(fund_manager, scheme, reference, amount):
    made = fund_manager.post(
        f"/v1/schemes/{scheme['id']}/contributions",
        {
            "kind": "investor",
            "reference": reference,
            "investor_name": f"Investor {reference}",
            "amount": money(amount, "KGS"),
        },
    )
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def contribution(fund_manager, scheme, contribution_id):
    listed = fund_manager.get(f"/v1/schemes/{scheme['id']}/contributions").get_json()["data"]
    return next(c for c in listed if c["id"] == contribution_id)


def post_event(client, event, *, secret=SECRET, at=None):
    body, headers = signed(event, secret, at=at or datetime.now(UTC))
    return client.post(WEBHOOK, data=body, headers=headers)


def test_a_contribution_paid_through_stripe_end_to_end(
    client, fund_manager, partner, admin, scheme, fake
):
    providers = partner.get("/v1/payment-providers").get_json()["data"]
    assert providers == [
        {"name": "bank_transfer", "available": True},
        {"name": "stripe", "available": True},
    ]
    pledged = pledge(fund_manager, scheme, "INV-K1", "50000.00")
    path = f"/v1/schemes/{scheme['id']}/contributions/{pledged['id']}/collections"
    made = fund_manager.post(path, {"provider": "stripe"})
    assert made.status_code == 201, made.get_json()
    collection = made.get_json()
    intent = collection["instructions"]["payment_intent"]
    assert collection["instructions"]["client_secret"].startswith(intent)
    assert collection["amount"] == money("50000.00", "KGS") and collection["status"] == "open"
    # A bad signature: 400, nothing stored, the contribution still pledged.
    event = fake.succeed(intent, fee=145_030)
    refused = post_event(client, event, secret="whsec_someone_else")
    assert_problem(refused, 400, "invalid_signature")
    assert_problem(client.post(WEBHOOK, json=event), 400, "invalid_signature")  # unsigned
    assert contribution(fund_manager, scheme, pledged["id"])["status"] == "pledged"
    taken = post_event(client, event)
    assert taken.status_code == 200, taken.get_json()
    assert taken.get_json() == {"received": True, "status": "processed", "event_id": event["id"]}
    assert post_event(client, event).get_json()["status"] == "duplicate"
    assert contribution(fund_manager, scheme, pledged["id"])["status"] == "received"
    events = admin.get("/v1/integrations/stripe/events").get_json()["data"]
    assert [(e["external_id"], e["status"], e["attempts"]) for e in events] == [
        (event["id"], "processed", 1)
    ]
    payout = fake.pay_out()
    assert post_event(client, payout).get_json()["status"] == "processed"
    payout_id = payout["data"]["object"]["id"]
    report = admin.get(f"/v1/integrations/stripe/payouts/{payout_id}/reconciliation")
    assert report.status_code == 200, report.get_json()
    report = report.get_json()
    assert (report["discrepancies"], report["booked_payout"]) == (0, True)
    assert report["payout_amount"] == money("48549.70", "KGS")
    (line,) = report["matched"]
    assert line["theirs"]["fee"] == money("1450.30", "KGS") == line["ours"]["fee"]
    assert_problem(
        admin.get("/v1/integrations/stripe/payouts/po_missing/reconciliation"),
        404,
        "payout_not_found",
    )
    assert_problem(
        admin.get("/v1/integrations/stripe/payouts/nonsense/reconciliation"),
        404,
        "payout_not_found",
    )


def test_stripe_being_down_answers_502_and_the_redelivery_books_it(
    client, fund_manager, scheme, fake
):
    pledged = pledge(fund_manager, scheme, "INV-K1", "100.00")
    path = f"/v1/schemes/{scheme['id']}/contributions/{pledged['id']}/collections"
    intent = fund_manager.post(path, {"provider": "stripe"}).get_json()["instructions"]
    event = fake.succeed(intent["payment_intent"])
    fake.down = True
    assert_problem(post_event(client, event), 502, "provider_error")
    assert_problem(
        fund_manager.post(
            f"/v1/schemes/{scheme['id']}/contributions/"
            f"{pledge(fund_manager, scheme, 'INV-K2', '1.00')['id']}/collections",
            {"provider": "stripe"},
        ),
        502,
        "provider_error",
    )
    fake.down = False
    assert post_event(client, event).get_json()["status"] == "processed"


def test_an_old_signature_is_refused(client, fund_manager, scheme, fake):
    pledged = pledge(fund_manager, scheme, "INV-K1", "100.00")
    path = f"/v1/schemes/{scheme['id']}/contributions/{pledged['id']}/collections"
    intent = fund_manager.post(path, {"provider": "stripe"}).get_json()["instructions"]
    event = fake.succeed(intent["payment_intent"])
    old = datetime.now(UTC) - timedelta(minutes=6)
    assert_problem(post_event(client, event, at=old), 400, "invalid_signature")


def test_without_keys_stripe_is_unavailable(
    database, api_clock, request, fund_manager, scheme, partner
):
    _apps = request.getfixturevalue("_apps")
    plain = Settings(rate_limit_per_second=10_000, rate_limit_burst=10_000, log_requests=False)
    app = _apps.get(plain) or create_app(plain, database=database, clock=api_clock)
    _apps[plain] = app
    app.extensions[DATABASE_EXTENSION] = database
    app.extensions[CLOCK_EXTENSION] = api_clock
    app.extensions[PROVIDERS_EXTENSION] = build_providers(plain)
    client = app.test_client()
    listed = client.get("/v1/payment-providers", headers=partner.headers()).get_json()["data"]
    assert {"name": "stripe", "available": False} in listed
    pledged = pledge(fund_manager, scheme, "INV-K1", "100.00")
    path = f"/v1/schemes/{scheme['id']}/contributions/{pledged['id']}/collections"
    answer = client.post(path, json={"provider": "stripe"}, headers=fund_manager.headers())
    assert_problem(answer, 503, "provider_unavailable")
    assert_problem(client.post(WEBHOOK, data=b"{}"), 503, "provider_unavailable")


STATEMENT_HEADER = "date,reference,amount,currency,bank_reference\n"


def test_a_bank_statement_books_what_matches_and_reports_the_rest(fund_manager, scheme):
    first = pledge(fund_manager, scheme, "INV-B1", "1000.00")
    second = pledge(fund_manager, scheme, "INV-B2", "2000.00")
    for made in (first, second):
        path = f"/v1/schemes/{scheme['id']}/contributions/{made['id']}/collections"
        answer = fund_manager.post(path, {"provider": "bank_transfer"})
        assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["instructions"]["reference"] == "INV-B2"
    statement = (
        STATEMENT_HEADER
        + "2026-11-02,INV-B1,1000.00,KGS,BANK-001\n"
        + "2026-11-02,INV-B2,1999.00,KGS,BANK-002\n"
        + "2026-11-02,INV-ZZ,10.00,KGS,BANK-003\n"
    )
    url = f"/v1/schemes/{scheme['id']}/bank-statements"
    headers = fund_manager.headers(**{"Content-Type": "text/csv"})
    booked = fund_manager.client.post(url, data=statement, headers=headers)
    assert booked.status_code == 200, booked.get_json()
    report = booked.get_json()
    assert [(line["reference"], line["outcome"]) for line in report["lines"]] == [
        ("INV-B1", "booked"),
        ("INV-B2", "amount_differs"),
        ("INV-ZZ", "unknown_reference"),
    ]
    assert report["lines"][1]["expected"] == money("2000.00", "KGS")
    assert (report["booked"], report["discrepancies"], report["duplicate"]) == (1, 2, False)
    assert contribution(fund_manager, scheme, first["id"])["status"] == "received"
    assert contribution(fund_manager, scheme, second["id"])["status"] == "pledged"
    again = fund_manager.client.post(url, data=statement, headers=headers).get_json()
    assert again["duplicate"] is True and again["booked"] == 1
    # A later statement repeating a booked bank reference does not book it twice.
    later = STATEMENT_HEADER + "2026-11-03,INV-B1,1000.00,KGS,BANK-001\n"
    repeated = fund_manager.client.post(url, data=later, headers=headers).get_json()
    assert [line["outcome"] for line in repeated["lines"]] == ["already_booked"]


@pytest.mark.parametrize(
    "body",
    [
        "date,reference,amount\n2026-11-02,INV-B1,1.00\n",
        STATEMENT_HEADER + "2026-11-02,INV-B1,1000.001,KGS,BANK-1\n",
        STATEMENT_HEADER + "02/11/2026,INV-B1,1000.00,KGS,BANK-1\n",
        STATEMENT_HEADER + "2026-11-02,INV-B1,1000.00,XXQ,BANK-1\n",
        STATEMENT_HEADER + "2026-11-02,,1000.00,KGS,BANK-1\n",
    ],
    ids=["header", "decimals", "date", "currency", "empty"],
)
def test_a_malformed_statement_is_refused_whole(fund_manager, scheme, body):
    made = pledge(fund_manager, scheme, "INV-B1", "1000.00")
    path = f"/v1/schemes/{scheme['id']}/contributions/{made['id']}/collections"
    fund_manager.post(path, {"provider": "bank_transfer"})
    url = f"/v1/schemes/{scheme['id']}/bank-statements"
    good = STATEMENT_HEADER + "2026-11-02,INV-B1,1000.00,KGS,BANK-0\n"
    headers = fund_manager.headers(**{"Content-Type": "text/csv"})
    # A good line first: it is not booked either, the file is refused whole.
    data = good + body.split("\n", 1)[1] if body.startswith(STATEMENT_HEADER) else body
    answer = fund_manager.client.post(url, data=data, headers=headers)
    assert_problem(answer, 422, "validation_error")
    assert contribution(fund_manager, scheme, made["id"])["status"] == "pledged"
    wrong_type = fund_manager.client.post(
        url, data=good, headers=fund_manager.headers(**{"Content-Type": "application/json"})
    )
    assert_problem(wrong_type, 415, "unsupported_media_type")


def test_a_line_for_a_contribution_received_by_hand_does_not_block_the_statement(
    fund_manager, scheme
):
    first = pledge(fund_manager, scheme, "INV-B1", "1000.00")
    second = pledge(fund_manager, scheme, "INV-B2", "2000.00")
    for made in (first, second):
        path = f"/v1/schemes/{scheme['id']}/contributions/{made['id']}/collections"
        assert fund_manager.post(path, {"provider": "bank_transfer"}).status_code == 201
    confirmed = fund_manager.post(f"/v1/schemes/{scheme['id']}/contributions/{first['id']}/receive")
    assert confirmed.status_code == 200, confirmed.get_json()
    statement = (
        STATEMENT_HEADER
        + "2026-11-02,INV-B1,1000.00,KGS,BANK-001\n"
        + "2026-11-02,INV-B2,2000.00,KGS,BANK-002\n"
    )
    headers = fund_manager.headers(**{"Content-Type": "text/csv"})
    answer = fund_manager.client.post(
        f"/v1/schemes/{scheme['id']}/bank-statements", data=statement, headers=headers
    )
    assert answer.status_code == 200, answer.get_json()
    assert [line["outcome"] for line in answer.get_json()["lines"]] == [
        "already_received",
        "booked",
    ]
    assert contribution(fund_manager, scheme, second["id"])["status"] == "received"
