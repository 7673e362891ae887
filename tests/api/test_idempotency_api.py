"""Idempotency-Key: replay, conflict, errors replayed, scope, in flight, expiry."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from api.idempotency import fingerprint
from ledger.access.idempotency import begin_request
from tests.api.conftest import (
    assert_problem,
    balances,
    fund,
    funded_pair,
    problem_code,
    transaction_count,
    transfer_body,
)

KEEP = timedelta(hours=48)  # Settings().idempotency_keep_hours
LOCK = timedelta(seconds=60)  # Settings().idempotency_lock_seconds
CUSTOMER = {"external_id": "c-1", "full_name": "Farrukh R", "country": "TJ", "kind": "migrant"}


def test_the_same_key_and_body_replays_the_response_and_posts_once(partner):
    settlement, wallet = funded_pair(partner)
    body = transfer_body(settlement, wallet, "25.00")
    first = partner.post("/v1/transactions", body, key="pay-1")
    second = partner.post("/v1/transactions", body, key="pay-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert transaction_count(partner) == 1
    assert balances(partner, wallet)["posted"] == "25.00"


def test_the_body_is_compared_canonically(partner):
    """Key order and whitespace do not make another request."""
    settlement, wallet = funded_pair(partner)
    amount = '{"amount": "25.00", "currency": "RUB"}'
    first = (
        f'{{"postings": [{{"account_id": {settlement}, "direction": "debit", "amount": {amount}}},'
        f' {{"account_id": {wallet}, "direction": "credit", "amount": {amount}}}],'
        f' "description": "x"}}'
    )
    reordered = json.dumps(
        {
            "description": "x",
            "postings": [
                {
                    "amount": {"currency": "RUB", "amount": "25.00"},
                    "direction": "debit",
                    "account_id": settlement,
                },
                {
                    "direction": "credit",
                    "account_id": wallet,
                    "amount": {"currency": "RUB", "amount": "25.00"},
                },
            ],
        },
        separators=(",", ":"),
    )
    assert first != reordered
    responses = [
        partner.client.post(
            "/v1/transactions",
            data=raw,
            content_type="application/json",
            headers=partner.headers("pay-2"),
        )
        for raw in (first, reordered)
    ]
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[1].headers["Idempotent-Replayed"] == "true"
    assert responses[1].get_json() == responses[0].get_json()
    assert transaction_count(partner) == 1


def test_the_same_key_with_another_body_is_422_idempotency_conflict(partner):
    settlement, wallet = funded_pair(partner)
    partner.post("/v1/transactions", transfer_body(settlement, wallet, "25.00"), key="pay-3")
    response = partner.post(
        "/v1/transactions", transfer_body(settlement, wallet, "25.01"), key="pay-3"
    )
    problem = assert_problem(response, 422, "idempotency_conflict")
    assert problem["idempotency_key"] == "pay-3"
    assert "Idempotent-Replayed" not in response.headers
    assert transaction_count(partner) == 1
    assert balances(partner, wallet)["posted"] == "25.00"


def test_the_same_key_on_another_path_is_a_conflict(partner):
    settlement, wallet = funded_pair(partner)
    partner.post("/v1/transactions", transfer_body(settlement, wallet, "1.00"), key="k")
    assert_problem(partner.post("/v1/customers", CUSTOMER, key="k"), 422, "idempotency_conflict")
    assert partner.get("/v1/customers").get_json()["data"] == []


def test_a_refusal_is_replayed_as_a_refusal(partner):
    settlement, wallet = funded_pair(partner)
    spend = transfer_body(wallet, settlement, "10.00")
    first = partner.post("/v1/transactions", spend, key="spend-1")
    assert_problem(first, 422, "insufficient_funds")
    fund(partner, settlement, wallet, "50.00")  # now it would succeed if it ran again
    again = partner.post("/v1/transactions", spend, key="spend-1")
    assert_problem(again, 422, "insufficient_funds")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert balances(partner, wallet)["posted"] == "50.00"
    assert partner.post("/v1/transactions", spend, key="spend-2").status_code == 201


def test_a_schema_refusal_is_replayed_too(partner):
    first = partner.post("/v1/transactions", {"postings": "nope"}, key="bad-1")
    again = partner.post("/v1/transactions", {"postings": "nope"}, key="bad-1")
    assert problem_code(first) == problem_code(again) == (422, "validation_error")
    assert again.headers["Idempotent-Replayed"] == "true"


def test_keys_belong_to_one_principal(partner, other_partner):
    a_settlement, a_wallet = funded_pair(partner)
    b_settlement, b_wallet = funded_pair(other_partner)
    first = partner.post(
        "/v1/transactions", transfer_body(a_settlement, a_wallet, "1.00"), key="same"
    )
    second = other_partner.post(
        "/v1/transactions", transfer_body(b_settlement, b_wallet, "2.00"), key="same"
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in second.headers
    assert second.get_json()["id"] != first.get_json()["id"]
    assert balances(other_partner, b_wallet)["posted"] == "2.00"


def test_money_moving_posts_without_a_key_are_400_idempotency_key_required(partner):
    settlement, wallet = funded_pair(partner)
    posted = fund(partner, settlement, wallet, "10.00")
    pending = partner.post(
        "/v1/transactions", transfer_body(wallet, settlement, "1.00", pending=True)
    ).get_json()
    calls = {
        "transactions": ("/v1/transactions", transfer_body(settlement, wallet, "1.00")),
        "batch": (
            "/v1/transactions/batch",
            {"transactions": [transfer_body(settlement, wallet, "1.00")]},
        ),
        "post": (f"/v1/transactions/{pending['id']}/post", {}),
        "void": (f"/v1/transactions/{pending['id']}/void", None),
        "reverse": (f"/v1/transactions/{posted['id']}/reverse", {}),
    }
    answers = {
        name: problem_code(partner.post(path, body, key=False))
        for name, (path, body) in calls.items()
    }
    assert answers == {name: (400, "idempotency_key_required") for name in calls}
    assert transaction_count(partner) == 2
    assert partner.get(f"/v1/transactions/{pending['id']}").get_json()["status"] == "pending"
    assert partner.get(f"/v1/transactions/{posted['id']}").get_json()["reversed_by_id"] is None


def test_an_invalid_key_is_400_invalid_idempotency_key(partner):
    settlement, wallet = funded_pair(partner)
    body = transfer_body(settlement, wallet, "1.00")
    keys = ["has space", "x" * 256, "x" * 300, "tab\there", "", " "]
    answers = {
        repr(k)[:20]: problem_code(
            partner.client.post("/v1/transactions", json=body, headers=partner.headers(k))
        )
        for k in keys
    }
    assert answers == {repr(k)[:20]: (400, "invalid_idempotency_key") for k in keys}
    assert transaction_count(partner) == 0


def test_a_non_ascii_key_is_400_invalid_idempotency_key(partner):
    settlement, wallet = funded_pair(partner)
    headers = partner.headers()
    headers["Idempotency-Key"] = "ключ".encode().decode("latin-1")  # as it arrives on the wire
    response = partner.client.post(
        "/v1/transactions", json=transfer_body(settlement, wallet, "1.00"), headers=headers
    )
    assert_problem(response, 400, "invalid_idempotency_key")


def test_the_longest_and_oddest_valid_keys_are_accepted(partner):
    settlement, wallet = funded_pair(partner)
    for key in ("x" * 255, "~!@#$%^&*()_+{}|:<>?"):
        response = partner.post(
            "/v1/transactions", transfer_body(settlement, wallet, "1.00"), key=key
        )
        assert response.status_code == 201, (key, response.get_json())


def test_other_posts_accept_a_key_and_replay(partner):
    first = partner.post("/v1/customers", CUSTOMER, key="cust-1")
    again = partner.post("/v1/customers", CUSTOMER, key="cust-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(partner.post("/v1/customers", CUSTOMER, key=False), 409, "customer_exists")


def test_retrying_a_void_replays_its_success(partner):
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "10.00")
    pending = partner.post(
        "/v1/transactions", transfer_body(wallet, settlement, "1.00", pending=True)
    ).get_json()
    first = partner.post(f"/v1/transactions/{pending['id']}/void", key="void-1")
    again = partner.post(f"/v1/transactions/{pending['id']}/void", key="void-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(
        partner.post(f"/v1/transactions/{pending['id']}/void", key="void-2"),
        409,
        "transaction_not_pending",
    )


def test_retrying_a_batch_replays_it(partner):
    settlement, wallet = funded_pair(partner)
    body = {"transactions": [transfer_body(settlement, wallet, "1.00")] * 3}
    first = partner.post("/v1/transactions/batch", body, key="batch-1")
    again = partner.post("/v1/transactions/batch", body, key="batch-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert transaction_count(partner) == 3


def test_retrying_a_reversal_replays_it(partner):
    settlement, wallet = funded_pair(partner)
    posted = fund(partner, settlement, wallet, "10.00")
    first = partner.post(f"/v1/transactions/{posted['id']}/reverse", {}, key="rev-1")
    again = partner.post(f"/v1/transactions/{posted['id']}/reverse", {}, key="rev-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert transaction_count(partner) == 2


class WorkerDied(Exception):
    """Stands for a worker killed after its unit of work committed."""


@pytest.mark.parametrize("action", ["post", "void"])
def test_a_capture_or_void_whose_answer_was_lost_is_replayed_not_refused(
    partner, monkeypatch, action
):
    # The response is stored in the same database transaction as the capture or
    # void. Were it stored afterwards, a failure in between would forget the
    # claim and the retry would run again and answer transaction_not_pending.
    import api.idempotency

    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "10.00")
    pending = partner.post(
        "/v1/transactions", transfer_body(wallet, settlement, "1.00", pending=True)
    ).get_json()
    real = api.idempotency.make_response

    def dies_once(*args):
        monkeypatch.setattr(api.idempotency, "make_response", real)
        raise WorkerDied

    monkeypatch.setattr(api.idempotency, "make_response", dies_once)
    path = f"/v1/transactions/{pending['id']}/{action}"
    assert problem_code(partner.post(path, key=f"{action}-lost")) == (500, "internal_error")
    retry = partner.post(path, key=f"{action}-lost")
    assert retry.status_code == 200, retry.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json()["status"] == ("posted" if action == "post" else "voided")


# -------------------------------------------------------------------- in flight


@pytest.fixture
def in_flight(app, database, partner, api_clock):
    """Claim key "busy" for a transfer, as a request still running would."""
    settlement, wallet = funded_pair(partner)
    body = transfer_body(settlement, wallet, "5.00")
    with app.test_request_context("/v1/transactions", method="POST", json=body):
        print_ = fingerprint()

    def claim(connection):
        return begin_request(
            connection,
            uuid.UUID(partner.id),
            "busy",
            print_,
            now=api_clock.now(),
            keep=KEEP,
            lock=LOCK,
        )

    assert database.run(claim) is None
    return {"body": body, "wallet": wallet}


def test_a_request_whose_key_is_in_flight_is_409_idempotency_in_flight(partner, in_flight):
    response = partner.post("/v1/transactions", in_flight["body"], key="busy")
    problem = assert_problem(response, 409, "idempotency_in_flight")
    assert problem["idempotency_key"] == "busy"
    assert transaction_count(partner) == 0


def test_another_body_with_a_key_in_flight_is_still_a_conflict(partner, in_flight):
    other = {**in_flight["body"], "description": "other"}
    assert_problem(partner.post("/v1/transactions", other, key="busy"), 422, "idempotency_conflict")


def test_a_key_in_flight_is_held_for_the_lock_period(partner, in_flight, api_clock):
    api_clock.advance(LOCK - timedelta(seconds=1))
    response = partner.post("/v1/transactions", in_flight["body"], key="busy")
    assert_problem(response, 409, "idempotency_in_flight")


def test_a_key_stuck_in_flight_past_the_lock_is_taken_over(partner, in_flight, api_clock):
    api_clock.advance(LOCK + timedelta(seconds=1))
    response = partner.post("/v1/transactions", in_flight["body"], key="busy")
    assert response.status_code == 201, response.get_json()
    assert "Idempotent-Replayed" not in response.headers
    again = partner.post("/v1/transactions", in_flight["body"], key="busy")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert transaction_count(partner) == 1
    assert balances(partner, in_flight["wallet"])["posted"] == "5.00"


# ----------------------------------------------------------------------- expiry


def test_a_key_is_kept_at_least_24_hours(partner, api_clock):
    first = partner.post("/v1/customers", CUSTOMER, key="c")
    api_clock.advance(timedelta(hours=23))
    again = partner.post("/v1/customers", CUSTOMER, key="c")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    other = {**CUSTOMER, "external_id": "c-2"}
    assert_problem(partner.post("/v1/customers", other, key="c"), 422, "idempotency_conflict")


def test_a_key_is_kept_until_its_48_hours_are_up(partner, api_clock):
    partner.post("/v1/customers", CUSTOMER, key="c")
    api_clock.advance(KEEP - timedelta(seconds=1))
    assert partner.post("/v1/customers", CUSTOMER, key="c").headers["Idempotent-Replayed"] == "true"


def test_after_48_hours_a_key_starts_a_new_life(partner, api_clock):
    first = partner.post("/v1/customers", CUSTOMER, key="c")
    api_clock.advance(timedelta(hours=49))
    other = {**CUSTOMER, "external_id": "c-2"}
    response = partner.post("/v1/customers", other, key="c")
    assert response.status_code == 201, response.get_json()
    assert "Idempotent-Replayed" not in response.headers
    assert response.get_json()["id"] != first.get_json()["id"]
    assert len(partner.get("/v1/customers").get_json()["data"]) == 2


def test_money_never_moves_twice_even_after_the_key_expires(partner, api_clock):
    """The journal keeps the key too: a late retry gets the original transaction."""
    settlement, wallet = funded_pair(partner)
    body = transfer_body(settlement, wallet, "25.00")
    first = partner.post("/v1/transactions", body, key="late").get_json()
    api_clock.advance(timedelta(hours=49))
    retry = partner.post("/v1/transactions", body, key="late")
    assert retry.status_code == 201, retry.get_json()
    assert retry.get_json()["id"] == first["id"]
    assert transaction_count(partner) == 1
    assert balances(partner, wallet)["posted"] == "25.00"
    changed = transfer_body(settlement, wallet, "30.00")
    assert_problem(
        partner.post("/v1/transactions", changed, key="late"), 422, "idempotency_conflict"
    )
    assert balances(partner, wallet)["posted"] == "25.00"


def test_amounts_are_compared_exactly(partner):
    """1.10 and 1.1 are the same money but not the same request body."""
    settlement, wallet = funded_pair(partner)
    partner.post("/v1/transactions", transfer_body(settlement, wallet, "1.10"), key="exact")
    response = partner.post(
        "/v1/transactions", transfer_body(settlement, wallet, "1.1"), key="exact"
    )
    assert_problem(response, 422, "idempotency_conflict")
