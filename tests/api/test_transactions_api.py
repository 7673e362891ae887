"""Transactions: post, refusals, holds (post in full or in part, void, expiry),
reversals, batches, lists."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.api.conftest import (
    API_START,
    assert_problem,
    balances,
    fund,
    funded_pair,
    list_all,
    money,
    open_account,
    problem_code,
    transaction_count,
    transfer_body,
)

NOW = API_START.isoformat()
IN_AN_HOUR = (API_START + timedelta(hours=1)).isoformat()


def leg(account: int, direction: str, amount: str, currency: str = "RUB") -> dict:
    return {"account_id": account, "direction": direction, "amount": money(amount, currency)}


@pytest.fixture
def pair(partner) -> tuple[int, int]:
    """(settlement, wallet) with 100.00 RUB in the wallet."""
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "100.00")
    return settlement, wallet


# ------------------------------------------------------------------------- post


def test_a_partner_posts_a_balanced_transaction(partner):
    settlement, wallet = funded_pair(partner)
    body = transfer_body(
        settlement, wallet, "150.00", description="Remittance #1", metadata={"ref": "r-1"}
    )
    response = partner.post("/v1/transactions", body)
    assert response.status_code == 201, response.get_json()
    posted = response.get_json()
    assert uuid.UUID(posted["id"])
    assert posted["status"] == "posted"
    assert posted["description"] == "Remittance #1"
    assert posted["metadata"] == {"ref": "r-1"}
    assert posted["effective_at"] == posted["created_at"] == NOW
    assert posted["postings"] == [
        {"leg": 0, "account_id": settlement, "direction": "debit", "amount": money("150.00")},
        {"leg": 1, "account_id": wallet, "direction": "credit", "amount": money("150.00")},
    ]
    for link in ("expires_at", "resolved_at", "reverses_id", "reversed_by_id", "pending_id"):
        assert posted[link] is None
    assert partner.get(f"/v1/transactions/{posted['id']}").get_json() == posted
    assert balances(partner, wallet) == {
        "posted": "150.00",
        "pending": "0.00",
        "available": "150.00",
    }


def test_a_backdated_transaction_keeps_its_business_time(partner):
    settlement, wallet = funded_pair(partner)
    body = transfer_body(settlement, wallet, "1.00", effective_at="2026-10-01T12:00:00+05:00")
    posted = partner.post("/v1/transactions", body).get_json()
    assert posted["effective_at"] == "2026-10-01T07:00:00+00:00"
    assert posted["created_at"] == NOW


def test_a_transaction_with_many_legs_posts(partner):
    settlement, wallet = funded_pair(partner)
    fee = open_account(partner, name="Fees", type="income")["id"]
    body = {
        "postings": [
            leg(settlement, "debit", "100.00"),
            leg(wallet, "credit", "98.50"),
            leg(fee, "credit", "1.50"),
        ]
    }
    assert partner.post("/v1/transactions", body).status_code == 201
    assert balances(partner, fee)["posted"] == "1.50"
    assert balances(partner, wallet)["posted"] == "98.50"


def test_an_unbalanced_transaction_is_422_and_writes_nothing(partner):
    settlement, wallet = funded_pair(partner)
    body = {"postings": [leg(settlement, "debit", "5.00"), leg(wallet, "credit", "4.00")]}
    problem = assert_problem(partner.post("/v1/transactions", body), 422, "unbalanced_transaction")
    assert problem["imbalance_minor"] == {"RUB": 100}
    assert transaction_count(partner) == 0
    assert balances(partner, wallet)["posted"] == "0.00"


def test_postings_in_another_currency_than_the_account_are_422_currency_mismatch(partner):
    settlement, wallet = funded_pair(partner)
    body = transfer_body(settlement, wallet, "5.00", currency="USD")
    problem = assert_problem(partner.post("/v1/transactions", body), 422, "currency_mismatch")
    assert (problem["account_id"], problem["posting"]) == (settlement, 0)
    assert transaction_count(partner) == 0


def test_debiting_a_wallet_below_zero_is_422_insufficient_funds(partner):
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "10.00")
    response = partner.post("/v1/transactions", transfer_body(wallet, settlement, "10.01"))
    problem = assert_problem(response, 422, "insufficient_funds")
    assert problem["account_id"] == wallet
    assert (problem["available_minor"], problem["required_minor"]) == (1000, 1001)
    assert (problem["floor_minor"], problem["currency"]) == (0, "RUB")
    assert balances(partner, wallet) == {
        "posted": "10.00",
        "pending": "0.00",
        "available": "10.00",
    }
    assert transaction_count(partner) == 1


def test_spending_exactly_the_balance_is_allowed(partner, pair):
    settlement, wallet = pair
    assert (
        partner.post("/v1/transactions", transfer_body(wallet, settlement, "100.00")).status_code
        == 201
    )
    assert balances(partner, wallet)["available"] == "0.00"


def test_a_single_posting_is_refused(partner):
    settlement, _ = funded_pair(partner)
    problem = assert_problem(
        partner.post("/v1/transactions", {"postings": [leg(settlement, "debit", "1.00")]}),
        422,
        "validation_error",
    )
    assert "postings" in problem["errors"]


def test_an_amount_must_be_a_decimal_string(partner):
    settlement, wallet = funded_pair(partner)
    amounts = [100, 1.5, "1e2", "-1.00", "", "1,00", " 1.00", "0x10", None, True]
    answers = {}
    for amount in amounts:
        body = transfer_body(settlement, wallet, "1.00")
        for posting in body["postings"]:
            posting["amount"]["amount"] = amount
        answers[repr(amount)] = problem_code(partner.post("/v1/transactions", body))
    assert answers == {repr(a): (422, "validation_error") for a in amounts}
    assert transaction_count(partner) == 0


def test_amounts_the_currency_cannot_hold_are_refused_with_their_code(partner):
    settlement, wallet = funded_pair(partner)
    jpy_a, jpy_b = funded_pair(partner, "JPY")
    cases = {
        "three decimals in RUB": (transfer_body(settlement, wallet, "1.001"), "too_many_decimals"),
        "any decimal in JPY": (transfer_body(jpy_a, jpy_b, "1.5", "JPY"), "too_many_decimals"),
        "zero": (transfer_body(settlement, wallet, "0.00"), "invalid_amount"),
        "beyond 64 bits": (
            transfer_body(settlement, wallet, "92233720368547758.08"),
            "invalid_amount",
        ),
        "unknown currency": (transfer_body(settlement, wallet, "1.00", "XYZ"), "unknown_currency"),
    }
    answers = {
        name: problem_code(partner.post("/v1/transactions", b)) for name, (b, _) in cases.items()
    }
    assert answers == {name: (422, code) for name, (_, code) in cases.items()}
    assert transaction_count(partner) == 0


def test_trailing_zeros_are_exact_and_accepted(partner):
    settlement, wallet = funded_pair(partner)
    posted = partner.post(
        "/v1/transactions", transfer_body(settlement, wallet, "1.5000")
    ).get_json()
    assert posted["postings"][1]["amount"] == money("1.50")


def test_account_ids_must_be_positive_64_bit_integers(partner):
    settlement, _ = funded_pair(partner)
    ids = [0, -1, "1", 1.5, 2**63, 10**20, None]
    answers = {}
    for ident in ids:
        body = {"postings": [leg(settlement, "debit", "1.00"), leg(1, "credit", "1.00")]}
        body["postings"][1]["account_id"] = ident
        answers[repr(ident)] = problem_code(partner.post("/v1/transactions", body))
    assert answers == {repr(i): (422, "validation_error") for i in ids}


def test_the_largest_64_bit_account_id_is_simply_not_found(partner):
    settlement, _ = funded_pair(partner)
    response = partner.post("/v1/transactions", transfer_body(settlement, 2**63 - 1, "1.00"))
    assert_problem(response, 404, "account_not_found")


def test_a_missing_account_is_404_account_not_found(partner):
    settlement, _ = funded_pair(partner)
    problem = assert_problem(
        partner.post("/v1/transactions", transfer_body(settlement, 424242, "1.00")),
        404,
        "account_not_found",
    )
    assert problem["account_id"] == 424242


def test_other_malformed_transactions_are_refused(partner):
    settlement, wallet = funded_pair(partner)
    base = transfer_body(settlement, wallet, "1.00")
    cases = {
        "unknown field": {**base, "memo": "x"},
        "bad direction": {
            "postings": [leg(settlement, "out", "1.00"), leg(wallet, "credit", "1.00")]
        },
        "description too long": {**base, "description": "x" * 501},
        "naive effective_at": {**base, "effective_at": "2026-11-01T00:00:00"},
        "effective_at beyond UTC": {**base, "effective_at": "9999-12-31T23:59:59-14:00"},
        "float in metadata": {**base, "metadata": {"rate": 0.5}},
        "metadata not an object": {**base, "metadata": "x"},
        "expires_at on a posted transaction": {**base, "expires_at": IN_AN_HOUR},
        "hold expiring now": {**base, "pending": True, "expires_at": NOW},
        "65 postings": {
            "postings": [leg(settlement, "debit", "1.00")] * 64 + [leg(wallet, "credit", "64.00")]
        },
        "no postings": {"postings": []},
        "not an object": [base],
    }
    answers = {name: problem_code(partner.post("/v1/transactions", b)) for name, b in cases.items()}
    assert answers == {name: (422, "validation_error") for name in cases}
    assert transaction_count(partner) == 0


# ------------------------------------------------------------------------ holds


def hold(partner, source: int, target: int, amount: str, **extra) -> dict:
    body = transfer_body(source, target, amount, pending=True, **extra)
    response = partner.post("/v1/transactions", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_hold_with_an_expiry_is_pending(partner, pair):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00", expires_at=IN_AN_HOUR)
    assert pending["status"] == "pending"
    assert pending["expires_at"] == IN_AN_HOUR
    assert pending["resolved_at"] is None


def test_posting_a_hold_in_full_posts_the_hold_itself(partner, pair, api_clock):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00", expires_at=IN_AN_HOUR)
    api_clock.advance(timedelta(minutes=10))
    response = partner.post(f"/v1/transactions/{pending['id']}/post", {})
    assert response.status_code == 200, response.get_json()
    posted = response.get_json()
    assert (posted["id"], posted["status"]) == (pending["id"], "posted")
    assert posted["resolved_at"] == (API_START + timedelta(minutes=10)).isoformat()
    assert posted["effective_at"] == NOW
    assert balances(partner, wallet) == {"posted": "70.00", "pending": "0.00", "available": "70.00"}


def test_posting_a_hold_in_part_by_amount_posts_a_capture_and_releases_the_rest(partner, pair):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00", expires_at=IN_AN_HOUR)
    response = partner.post(f"/v1/transactions/{pending['id']}/post", {"amount": money("12.50")})
    assert response.status_code == 200, response.get_json()
    capture = response.get_json()
    assert capture["id"] != pending["id"]
    assert (capture["status"], capture["pending_id"]) == ("posted", pending["id"])
    assert [p["amount"] for p in capture["postings"]] == [money("12.50")] * 2
    held = partner.get(f"/v1/transactions/{pending['id']}").get_json()
    assert (held["status"], held["captured_by_id"]) == ("voided", capture["id"])
    assert balances(partner, wallet) == {"posted": "87.50", "pending": "0.00", "available": "87.50"}


def test_a_capture_belongs_to_the_partner_that_placed_the_hold(partner, pair):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00")
    capture = partner.post(f"/v1/transactions/{pending['id']}/post", {"amount": money("10.00")})
    capture_id = capture.get_json()["id"]
    assert partner.get(f"/v1/transactions/{capture_id}").status_code == 200
    assert capture_id in {t["id"] for t in list_all(partner, "/v1/transactions")}
    reversal = partner.post(f"/v1/transactions/{capture_id}/reverse", {})
    assert reversal.status_code == 201, reversal.get_json()
    assert balances(partner, wallet)["posted"] == "100.00"


def test_posting_a_hold_in_part_leg_by_leg(partner, pair):
    settlement, wallet = pair
    fees = open_account(partner, name="Fees", type="income")["id"]
    body = {
        "postings": [
            leg(wallet, "debit", "30.00"),
            leg(settlement, "credit", "25.00"),
            leg(fees, "credit", "5.00"),
        ],
        "pending": True,
    }
    pending = partner.post("/v1/transactions", body).get_json()
    capture = {
        "postings": [
            leg(wallet, "debit", "20.00"),
            leg(settlement, "credit", "16.00"),
            leg(fees, "credit", "4.00"),
        ]
    }
    response = partner.post(f"/v1/transactions/{pending['id']}/post", capture)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["pending_id"] == pending["id"]
    assert balances(partner, wallet) == {"posted": "80.00", "pending": "0.00", "available": "80.00"}
    assert balances(partner, fees)["posted"] == "4.00"
    assert balances(partner, settlement)["posted"] == "84.00"


def test_a_partial_amount_needs_a_two_legged_hold(partner, pair):
    settlement, wallet = pair
    fees = open_account(partner, name="Fees", type="income")["id"]
    body = {
        "postings": [
            leg(wallet, "debit", "30.00"),
            leg(settlement, "credit", "25.00"),
            leg(fees, "credit", "5.00"),
        ],
        "pending": True,
    }
    pending = partner.post("/v1/transactions", body).get_json()
    response = partner.post(f"/v1/transactions/{pending['id']}/post", {"amount": money("10.00")})
    assert_problem(response, 422, "validation_error")


def test_capturing_the_whole_amount_is_a_post_in_full(partner, pair):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00")
    posted = partner.post(f"/v1/transactions/{pending['id']}/post", {"amount": money("30.00")})
    assert (posted.get_json()["id"], posted.get_json()["status"]) == (pending["id"], "posted")


def test_refused_captures_leave_the_hold_pending(partner, pair):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00")
    url = f"/v1/transactions/{pending['id']}/post"
    cases = {
        "more than held": ({"amount": money("30.01")}, "amount_exceeds_pending"),
        "another currency": ({"amount": money("10", "JPY")}, "currency_mismatch"),
        "too many decimals": ({"amount": money("1.001")}, "too_many_decimals"),
        "amount and postings": (
            {
                "amount": money("1.00"),
                "postings": [leg(wallet, "debit", "1.00"), leg(settlement, "credit", "1.00")],
            },
            "validation_error",
        ),
        "legs swapped": (
            {"postings": [leg(settlement, "credit", "1.00"), leg(wallet, "debit", "1.00")]},
            "validation_error",
        ),
        "unbalanced legs": (
            {"postings": [leg(wallet, "debit", "2.00"), leg(settlement, "credit", "1.00")]},
            "unbalanced_transaction",
        ),
        "amount as a number": ({"amount": {"amount": 10, "currency": "RUB"}}, "validation_error"),
        "unknown field": ({"partial": True}, "validation_error"),
    }
    answers = {name: problem_code(partner.post(url, b)) for name, (b, _) in cases.items()}
    assert answers == {name: (422, code) for name, (_, code) in cases.items()}
    assert partner.get(f"/v1/transactions/{pending['id']}").get_json()["status"] == "pending"
    assert balances(partner, wallet) == {
        "posted": "100.00",
        "pending": "-30.00",
        "available": "70.00",
    }


def test_voiding_a_hold_releases_it(partner, pair, api_clock):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00")
    api_clock.advance(timedelta(minutes=1))
    response = partner.post(f"/v1/transactions/{pending['id']}/void")
    assert response.status_code == 200, response.get_json()
    voided = response.get_json()
    assert (voided["id"], voided["status"]) == (pending["id"], "voided")
    assert voided["resolved_at"] == (API_START + timedelta(minutes=1)).isoformat()
    assert balances(partner, wallet) == {
        "posted": "100.00",
        "pending": "0.00",
        "available": "100.00",
    }


def test_voiding_twice_is_409_transaction_not_pending(partner, pair):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00")
    partner.post(f"/v1/transactions/{pending['id']}/void")
    problem = assert_problem(
        partner.post(f"/v1/transactions/{pending['id']}/void"), 409, "transaction_not_pending"
    )
    assert problem["transaction_id"] == pending["id"]
    assert problem["transaction_status"] == "voided"


def test_a_resolved_transaction_cannot_be_posted_or_voided(partner, pair):
    settlement, wallet = pair
    voided = hold(partner, wallet, settlement, "1.00")
    partner.post(f"/v1/transactions/{voided['id']}/void")
    posted = fund(partner, settlement, wallet, "1.00")
    answers = {
        "post a voided hold": problem_code(
            partner.post(f"/v1/transactions/{voided['id']}/post", {})
        ),
        "void a posted transaction": problem_code(
            partner.post(f"/v1/transactions/{posted['id']}/void")
        ),
        "post a posted transaction": problem_code(
            partner.post(f"/v1/transactions/{posted['id']}/post", {})
        ),
    }
    assert answers == {name: (409, "transaction_not_pending") for name in answers}


def test_a_hold_past_its_expiry_is_409_pending_expired_but_can_be_voided(partner, pair, api_clock):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00", expires_at=IN_AN_HOUR)
    api_clock.advance(timedelta(hours=1))  # expires_at is no longer in the future
    for body in ({}, {"amount": money("1.00")}):
        response = partner.post(f"/v1/transactions/{pending['id']}/post", body)
        assert_problem(response, 409, "pending_expired")
    assert partner.get(f"/v1/transactions/{pending['id']}").get_json()["status"] == "pending"
    assert partner.post(f"/v1/transactions/{pending['id']}/void").status_code == 200
    assert balances(partner, wallet)["available"] == "100.00"


def test_a_hold_can_be_posted_until_its_last_second(partner, pair, api_clock):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "30.00", expires_at=IN_AN_HOUR)
    api_clock.advance(timedelta(minutes=59, seconds=59))
    assert partner.post(f"/v1/transactions/{pending['id']}/post", {}).status_code == 200


def test_a_hold_on_a_wallet_cannot_reserve_more_than_is_available(partner, pair):
    settlement, wallet = pair
    hold(partner, wallet, settlement, "80.00")
    response = partner.post(
        "/v1/transactions", transfer_body(wallet, settlement, "20.01", pending=True)
    )
    assert_problem(response, 422, "insufficient_funds")


# -------------------------------------------------------------------- reversals


def test_reversing_posts_the_mirror_image_linked_both_ways(partner, pair, api_clock):
    settlement, wallet = pair
    original = fund(partner, settlement, wallet, "40.00")
    api_clock.advance(timedelta(hours=1))
    response = partner.post(f"/v1/transactions/{original['id']}/reverse", {})
    assert response.status_code == 201, response.get_json()
    reversal = response.get_json()
    assert reversal["status"] == "posted"
    assert reversal["reverses_id"] == original["id"]
    assert reversal["description"] == f"Reversal of {original['id']}"
    assert [(p["account_id"], p["direction"], p["amount"]) for p in reversal["postings"]] == [
        (settlement, "credit", money("40.00")),
        (wallet, "debit", money("40.00")),
    ]
    assert (
        partner.get(f"/v1/transactions/{original['id']}").get_json()["reversed_by_id"]
        == (reversal["id"])
    )
    assert balances(partner, wallet)["posted"] == "100.00"


def test_a_reversal_takes_a_description_business_time_and_metadata(partner, pair):
    settlement, wallet = pair
    original = fund(partner, settlement, wallet, "40.00")
    body = {
        "description": "Sent twice",
        "effective_at": "2026-11-01T00:00:00Z",
        "metadata": {"ticket": "T-9"},
    }
    reversal = partner.post(f"/v1/transactions/{original['id']}/reverse", body).get_json()
    assert (reversal["description"], reversal["metadata"]) == ("Sent twice", {"ticket": "T-9"})
    assert reversal["effective_at"] == "2026-11-01T00:00:00+00:00"


def test_reversing_twice_is_409_already_reversed(partner, pair):
    settlement, wallet = pair
    original = fund(partner, settlement, wallet, "40.00")
    first = partner.post(f"/v1/transactions/{original['id']}/reverse", {}).get_json()
    problem = assert_problem(
        partner.post(f"/v1/transactions/{original['id']}/reverse", {}), 409, "already_reversed"
    )
    assert problem["reversed_by_id"] == first["id"]
    assert balances(partner, wallet)["posted"] == "100.00"


def test_only_posted_transactions_are_reversed(partner, pair):
    settlement, wallet = pair
    pending = hold(partner, wallet, settlement, "1.00")
    problem = assert_problem(
        partner.post(f"/v1/transactions/{pending['id']}/reverse", {}), 409, "transaction_not_posted"
    )
    assert problem["transaction_status"] == "pending"


def test_a_reversal_that_would_overdraw_a_wallet_is_422_insufficient_funds(partner, pair):
    settlement, wallet = pair
    original = fund(partner, settlement, wallet, "40.00")
    partner.post("/v1/transactions", transfer_body(wallet, settlement, "140.00"))
    response = partner.post(f"/v1/transactions/{original['id']}/reverse", {})
    assert_problem(response, 422, "insufficient_funds")
    assert partner.get(f"/v1/transactions/{original['id']}").get_json()["reversed_by_id"] is None


@pytest.mark.parametrize("action", ["post", "void", "reverse"])
def test_unknown_or_malformed_transaction_ids_are_404(partner, action):
    idents = [str(uuid.UUID(int=7)), "nope", "123", "%C2%B2"]
    answers = {i: problem_code(partner.post(f"/v1/transactions/{i}/{action}", {})) for i in idents}
    answers.update({f"GET {i}": problem_code(partner.get(f"/v1/transactions/{i}")) for i in idents})
    assert answers == {key: (404, "transaction_not_found") for key in answers}


# ----------------------------------------------------------------------- batches


def test_a_batch_of_50_posts_every_item_in_order(partner):
    settlement, wallet = funded_pair(partner)
    items = [transfer_body(settlement, wallet, "1.00", description=f"item {i}") for i in range(50)]
    response = partner.post("/v1/transactions/batch", {"transactions": items})
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["data"]
    assert [t["description"] for t in data] == [f"item {i}" for i in range(50)]
    assert {t["status"] for t in data} == {"posted"}
    assert len({t["id"] for t in data}) == 50
    assert transaction_count(partner) == 50
    assert balances(partner, wallet)["posted"] == "50.00"


def test_later_batch_items_see_the_balances_left_by_earlier_ones(partner):
    settlement, wallet = funded_pair(partner)
    items = [
        transfer_body(settlement, wallet, "10.00"),
        transfer_body(wallet, settlement, "10.00"),
    ]
    assert partner.post("/v1/transactions/batch", {"transactions": items}).status_code == 201
    assert balances(partner, wallet)["posted"] == "0.00"


def test_a_batch_with_failing_items_lists_every_one_and_writes_nothing(partner, other_partner):
    settlement, wallet = funded_pair(partner)
    _, theirs = funded_pair(other_partner)
    fund(partner, settlement, wallet, "5.00")
    items = [
        transfer_body(settlement, wallet, "1.00"),  # 0: fine
        transfer_body(settlement, wallet, "1.001"),  # 1: too many decimals
        {"postings": [leg(settlement, "debit", "2.00"), leg(wallet, "credit", "1.00")]},  # 2
        transfer_body(settlement, theirs, "1.00"),  # 3: another partner's account
        transfer_body(wallet, settlement, "7.00"),  # 4: 6.00 available after item 0
        transfer_body(settlement, wallet, "1.00", pending=True),  # 5: holds go one by one
        transfer_body(settlement, wallet, "1.00", currency="USD"),  # 6: RUB accounts
        transfer_body(settlement, 999_999, "1.00"),  # 7: no such account
        transfer_body(wallet, settlement, "6.00"),  # 8: fine (items 4 and 5 do not count)
    ]
    before = (transaction_count(partner), balances(partner, wallet), balances(partner, settlement))
    response = partner.post("/v1/transactions/batch", {"transactions": items})
    problem = assert_problem(response, 422, "batch_rejected")
    assert [(e["index"], e["code"]) for e in problem["errors"]] == [
        (1, "too_many_decimals"),
        (2, "unbalanced_transaction"),
        (3, "account_not_found"),
        (4, "insufficient_funds"),
        (5, "validation_error"),
        (6, "currency_mismatch"),
        (7, "account_not_found"),
    ]
    after = (transaction_count(partner), balances(partner, wallet), balances(partner, settlement))
    assert after == before


def test_a_batch_of_over_1000_items_is_refused(partner):
    settlement, wallet = funded_pair(partner)
    items = [transfer_body(settlement, wallet, "1.00")] * 1001
    problem = assert_problem(
        partner.post("/v1/transactions/batch", {"transactions": items}), 422, "validation_error"
    )
    assert "transactions" in problem["errors"]
    assert transaction_count(partner) == 0


def test_an_empty_batch_is_refused(partner):
    response = partner.post("/v1/transactions/batch", {"transactions": []})
    assert_problem(response, 422, "validation_error")


# ------------------------------------------------------------------------- list


@pytest.fixture
def journal(partner) -> dict:
    """Posted on 20 and 25 Oct and now; a pending hold; a voided one; a reversal."""
    settlement, wallet = funded_pair(partner)
    other_wallet = open_account(partner)["id"]
    made = {
        "oct20": fund_at(partner, settlement, wallet, "10.00", "2026-10-20T00:00:00Z"),
        "oct25": fund_at(partner, settlement, other_wallet, "20.00", "2026-10-25T00:00:00Z"),
        "now": fund(partner, settlement, wallet, "30.00")["id"],
        "pending": hold(partner, wallet, settlement, "1.00")["id"],
        "voided": hold(partner, wallet, settlement, "2.00")["id"],
    }
    partner.post(f"/v1/transactions/{made['voided']}/void")
    reversal = partner.post(f"/v1/transactions/{made['now']}/reverse", {}).get_json()
    return {**made, "reversal": reversal["id"], "wallet": wallet, "other_wallet": other_wallet}


def fund_at(partner, settlement: int, wallet: int, amount: str, effective_at: str) -> str:
    body = transfer_body(settlement, wallet, amount, effective_at=effective_at)
    return partner.post("/v1/transactions", body).get_json()["id"]


NEWEST_FIRST = ["reversal", "voided", "pending", "now", "oct25", "oct20"]


def listed(partner, query: str = "") -> list[str]:
    response = partner.get(f"/v1/transactions?{query}")
    assert response.status_code == 200, response.get_json()
    return [t["id"] for t in response.get_json()["data"]]


def test_transactions_are_listed_newest_first(partner, journal):
    assert listed(partner) == [journal[k] for k in NEWEST_FIRST]


def test_transactions_filter(partner, journal):
    expected = {
        "status=posted": ["reversal", "now", "oct25", "oct20"],
        "status=pending": ["pending"],
        "status=voided": ["voided"],
        "account_id={other_wallet}": ["oct25"],
        "account_id={wallet}": ["reversal", "voided", "pending", "now", "oct20"],
        "account_id={wallet}&status=posted": ["reversal", "now", "oct20"],
        "from=2026-10-25T00:00:00Z": ["reversal", "voided", "pending", "now", "oct25"],
        "to=2026-10-25T00:00:00Z": ["oct20"],
        "from=2026-10-21T00:00:00Z&to=2026-11-01T00:00:00Z": ["oct25"],
        "from=2026-10-25T05:00:00%2B05:00&to=2026-10-25T00:00:01Z": ["oct25"],
    }
    answers = {query: listed(partner, query.format(**journal)) for query in expected}
    assert answers == {q: [journal[k] for k in keys] for q, keys in expected.items()}


def test_transactions_page_two_at_a_time(partner, journal):
    seen, query = [], "limit=2"
    for _ in range(4):
        body = partner.get(f"/v1/transactions?{query}").get_json()
        seen.extend(t["id"] for t in body["data"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        assert body["next_cursor"] == body["data"][-1]["id"]
        query = f"limit=2&starting_after={body['next_cursor']}"
    assert seen == [journal[k] for k in NEWEST_FIRST]


def test_a_filtered_list_pages_within_the_filter(partner, journal):
    first = partner.get("/v1/transactions?status=posted&limit=3").get_json()
    rest = listed(partner, f"status=posted&limit=3&starting_after={first['next_cursor']}")
    assert [t["id"] for t in first["data"]] + rest == [
        journal[k] for k in ("reversal", "now", "oct25", "oct20")
    ]


def test_bad_list_queries_are_refused(partner, journal):
    cases = {
        "limit=0": "validation_error",
        "limit=1001": "validation_error",
        "status=lost": "validation_error",
        "account_id=0": "validation_error",
        "account_id=99999999999999999999": "validation_error",
        "from=2026-10-25T00:00:00": "validation_error",  # naive
        "starting_after=nope": "invalid_cursor",
        "starting_after=%C2%B2": "invalid_cursor",
        "account_id=424242": "account_not_found",
        "customer_id=" + str(uuid.UUID(int=9)): "customer_not_found",
    }
    answers = {q: problem_code(partner.get(f"/v1/transactions?{q}"))[1] for q in cases}
    assert answers == cases


def test_no_transactions_is_an_empty_page(partner):
    assert partner.get("/v1/transactions").get_json() == {
        "data": [],
        "has_more": False,
        "next_cursor": None,
    }
