"""Webhook endpoints through the API on both databases: a partner registers a URL on a
real local HTTP server, completes a remittance, the worker delivers it signed with the
secret the API showed once; the partner reads the delivery and its attempts and
replays it; another partner sees none of it; bad endpoints are refused."""

from __future__ import annotations

import json

import pytest

from integrations.webhooks.delivery import deliver_due
from tests.api.conftest import assert_problem
from tests.api.test_remittances_api import market, remittance_body  # noqa: F401 (fixture)
from tests.webhook_support import receiver


def test_a_partner_subscribes_hears_a_completion_and_replays_it(
    partner,
    other_partner,
    market,  # noqa: F811
    database,
    api_clock,
):
    with receiver(now=api_clock.now) as server:
        created = partner.post(
            "/v1/webhook-endpoints", {"url": server.url, "events": ["remittance.completed"]}
        )
        assert created.status_code == 201, created.get_json()
        endpoint = created.get_json()
        server.secret = endpoint["secret"]
        assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "enabled"
        listed = partner.get("/v1/webhook-endpoints").get_json()["data"]
        assert [e["id"] for e in listed] == [endpoint["id"]]
        assert "secret" not in listed[0]  # shown once
        r = partner.post("/v1/remittances", remittance_body(market)).get_json()
        assert partner.post(f"/v1/remittances/{r['id']}/complete").status_code == 200
        server.statuses = [502]
        assert deliver_due(database, now=api_clock.now)["pending"] == 1
        deliveries = partner.get("/v1/webhook-deliveries").get_json()["data"]
        (pending,) = deliveries
        assert (pending["status"], pending["attempts"], pending["last_status_code"]) == (
            "pending",
            1,
            502,
        )
        assert pending["data"]["remittance_id"] == r["id"]
        replayed = partner.post(f"/v1/webhook-deliveries/{pending['id']}/replay")
        assert replayed.status_code == 200, replayed.get_json()
        assert deliver_due(database, now=api_clock.now)["delivered"] == 1  # at once, no wait
        detail = partner.get(f"/v1/webhook-deliveries/{pending['id']}").get_json()
        assert detail["status"] == "delivered"
        assert [(a["number"], a["status_code"]) for a in detail["attempt_log"]] == [
            (1, 502),
            (2, 200),
        ]
        assert [item["signed"] for item in server.received] == [True, True]
        body = json.loads(server.received[-1]["body"])
        assert (body["id"], body["type"]) == (pending["event_id"], "remittance.completed")
        delivered = partner.get("/v1/webhook-deliveries?status=delivered").get_json()["data"]
        assert [d["id"] for d in delivered] == [pending["id"]]
        # Another partner sees nothing of it, and cannot touch it.
        assert other_partner.get("/v1/webhook-endpoints").get_json()["data"] == []
        assert other_partner.get("/v1/webhook-deliveries").get_json()["data"] == []
        for path in (
            f"/v1/webhook-deliveries/{pending['id']}/replay",
            f"/v1/webhook-endpoints/{endpoint['id']}/disable",
        ):
            code = "webhook_delivery_not_found" if "deliveries" in path else None
            response = other_partner.post(path)
            assert_problem(response, 404, code or "webhook_endpoint_not_found")
        disabled = partner.post(f"/v1/webhook-endpoints/{endpoint['id']}/disable").get_json()
        assert disabled["status"] == "disabled" and disabled["disabled_at"] is not None
        enabled = partner.post(f"/v1/webhook-endpoints/{endpoint['id']}/enable").get_json()
        assert (enabled["status"], enabled["disabled_at"]) == ("enabled", None)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://files.example/x", "events": ["*"]},
        {"url": "https://", "events": ["*"]},
        {"url": "https://partner.example/h", "events": []},
        {"url": "https://partner.example/h", "events": ["loan.eaten"]},
        {"url": "https://partner.example/" + "x" * 2100, "events": ["*"]},
        {"url": "https://partner.example/h\x00", "events": ["*"]},
        {"events": ["*"]},
    ],
    ids=["scheme", "no host", "no events", "unknown event", "too long", "nul", "no url"],
)
def test_bad_endpoints_are_refused_and_nothing_is_registered(partner, body):
    assert_problem(partner.post("/v1/webhook-endpoints", body), 422, "validation_error")
    assert partner.get("/v1/webhook-endpoints").get_json()["data"] == []


def test_a_malformed_id_is_not_found(partner):
    assert_problem(
        partner.get("/v1/webhook-deliveries/not-a-uuid"), 404, "webhook_delivery_not_found"
    )
    assert_problem(
        partner.post("/v1/webhook-endpoints/42/enable"), 404, "webhook_endpoint_not_found"
    )
