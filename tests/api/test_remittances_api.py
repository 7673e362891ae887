"""The remittance API on both databases: corridors, prices, mid-rates, quotes,
remittances from reservation to payout, liquidity, statements, the cost report,
remittance history, CSV imports; and the problems bad input gets."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest

from tests.api.conftest import API_START, assert_problem, balances, money, problem_code

TJ = "RU-RUB-TJ-TJS"
TODAY = API_START.date().isoformat()

PRICE = {
    "tiers": [
        {"from_amount": money("0.00"), "fixed": money("0.00"), "percentage": "0.015"},
        {"from_amount": money("50000.00"), "fixed": money("0.00"), "percentage": "0.01"},
    ],
    "minimum_fee": money("50.00"),
    "maximum_fee": money("1500.00"),
    "fx_margin": "0.004",
    "rate_source": "cbr",
}


@pytest.fixture
def market(admin, partner, other_partner):
    """Corridors, today's and yesterday's cbr rates, the partner's price and RUB
    liquidity (cap 100,000.00, 1,000,000.00 prefunded), and a beneficiary."""
    for code in (TJ, "RU-RUB-UZ-UZS"):
        country, currency, to_country, to_currency = code.split("-")
        body = {
            "send_country": country,
            "send_currency": currency,
            "receive_country": to_country,
            "receive_currency": to_currency,
        }
        assert admin.post("/v1/corridors", body, key=False).status_code == 201
    yesterday = (API_START - timedelta(days=1)).date().isoformat()
    rates = [
        {"date": day, "source": "cbr", "base": base, "quote": quote, "mid_rate": value}
        for day in (TODAY, yesterday)
        for base, quote, value in (("RUB", "TJS", "0.1192"), ("USD", "RUB", "90"))
    ]
    loaded = admin.post("/v1/fx-rates", {"rates": rates}, key=False)
    assert loaded.get_json() == {"inserted": 4, "unchanged": 0}
    assert partner.put(f"/v1/corridors/{TJ}/pricing", PRICE).status_code == 200
    configured = admin.put(
        f"/v1/partners/{partner.id}/liquidity/RUB",
        {"net_debit_cap": money("100000.00"), "alarm_threshold_percent": 80},
    )
    assert configured.status_code == 200, configured.get_json()
    topped = admin.post(
        f"/v1/partners/{partner.id}/liquidity/RUB/adjustments",
        {"kind": "top_up", "amount": money("1000000.00"), "reference": "SWIFT-1"},
    )
    assert topped.status_code == 201, topped.get_json()
    customer = partner.post(
        "/v1/customers",
        {"external_id": "b-1", "full_name": "Farrukh Rahimov", "country": "TJ", "kind": "migrant"},
        key=False,
    ).get_json()
    theirs = other_partner.post(
        "/v1/customers",
        {"external_id": "o-1", "full_name": "Other", "country": "TJ", "kind": "migrant"},
        key=False,
    ).get_json()
    return {"customer": customer["id"], "theirs": theirs["id"]}


def remittance_body(market, reference="R-1", **changes):
    body = {
        "partner_reference": reference,
        "corridor": TJ,
        "sender": {"name": "Rustam Karimov", "country": "RU"},
        "beneficiary": {"customer_id": market["customer"]},
        "send_amount": money("10000.00"),
        "fee": money("150.00"),
        "rate": "0.1187232",
    }
    body.update(changes)
    return body


def test_a_quote_then_a_remittance_then_the_payout(partner, market):
    quote = partner.post("/v1/quotes", {"corridor": TJ, "send_amount": money("10000.00")})
    assert quote.status_code == 201, quote.get_json()
    q = quote.get_json()
    assert (q["fee"], q["receive_amount"], q["total_cost_percent"]) == (
        money("150.00"),
        money("1187.23", "TJS"),
        "1.90",
    )
    assert (q["charged_amount"], q["total_cost"], q["fx_margin_cost"]) == (
        money("10150.00"),
        money("190.00"),
        money("40.00"),
    )
    assert partner.get(f"/v1/quotes/{q['id']}").get_json() == q
    body = {
        "partner_reference": "ZK-0001",
        "corridor": TJ,
        "sender": {"name": "Rustam Karimov", "country": "RU"},
        "beneficiary": {"customer_id": market["customer"]},
        "quote_id": q["id"],
    }
    reserved = partner.post("/v1/remittances", body)
    assert reserved.status_code == 201, reserved.get_json()
    r = reserved.get_json()
    assert (r["status"], r["transaction"]["status"]) == ("reserved", "pending")
    assert len(r["transaction"]["postings"]) == 5
    wallet = r["beneficiary"]["account_id"]
    assert balances(partner, wallet) == {
        "posted": "0.00",
        "pending": "1187.23",
        "available": "0.00",
    }
    done = partner.post(f"/v1/remittances/{r['id']}/complete")
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["status"], done.get_json()["transaction"]["status"]) == (
        "completed",
        "posted",
    )
    assert balances(partner, wallet)["posted"] == "1187.23"
    (position,) = partner.get("/v1/liquidity").get_json()["data"]
    assert (position["posted"], position["available"], position["fees_earned"]) == (
        money("989850.00"),
        money("989850.00"),
        money("150.00"),
    )
    listed = partner.get("/v1/remittances?status=completed").get_json()["data"]
    assert [item["id"] for item in listed] == [r["id"]]


def test_the_same_reference_again_answers_the_existing_remittance(partner, market):
    first = partner.post("/v1/remittances", remittance_body(market))
    again = partner.post("/v1/remittances", remittance_body(market))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    conflict = partner.post("/v1/remittances", remittance_body(market, fee=money("1.00")))
    assert_problem(conflict, 409, "remittance_exists")


def test_the_idempotency_key_replays_a_remittance(partner, market):
    first = partner.post("/v1/remittances", remittance_body(market), key="rem-1")
    again = partner.post("/v1/remittances", remittance_body(market), key="rem-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert_problem(
        partner.post("/v1/remittances", remittance_body(market), key=False),
        400,
        "idempotency_key_required",
    )


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"send_amount": {"amount": 10000, "currency": "RUB"}}, 422, "validation_error"),
        ({"send_amount": money("10000.001")}, 422, "too_many_decimals"),
        ({"send_amount": money("0.00")}, 422, "invalid_amount"),
        ({"send_amount": money("-5.00")}, 422, "validation_error"),
        ({"send_amount": money("100.00", "USD")}, 422, "currency_mismatch"),
        ({"corridor": "RU-RUB-AM-AMD"}, 404, "corridor_not_found"),
        ({"corridor": "ru-rub"}, 422, "validation_error"),
        ({"rate": 0.1187232}, 422, "validation_error"),
        ({"receive_amount": money("1187.24", "TJS")}, 422, "receive_amount_mismatch"),
        ({"quote_id": str(uuid.UUID(int=1))}, 422, "validation_error"),
        ({"sender": {"name": "X", "country": "ZZ"}}, 422, "validation_error"),
        ({"colour": "red"}, 422, "validation_error"),
    ],
)
def test_bad_remittances_get_a_problem_and_write_nothing(partner, market, changes, status, code):
    response = partner.post("/v1/remittances", remittance_body(market, **changes))
    assert problem_code(response) == (status, code), response.get_json()
    assert partner.get("/v1/remittances").get_json()["data"] == []


def test_a_beneficiary_of_another_partner_is_not_found(partner, market):
    body = remittance_body(market, beneficiary={"customer_id": market["theirs"]})
    assert_problem(partner.post("/v1/remittances", body), 404, "customer_not_found")


def test_an_expired_quote_is_refused(partner, market, api_clock):
    q = partner.post("/v1/quotes", {"corridor": TJ, "send_amount": money("100.00")}).get_json()
    api_clock.advance(timedelta(minutes=15))
    body = {
        "partner_reference": "late",
        "corridor": TJ,
        "sender": {"name": "A", "country": "RU"},
        "beneficiary": {"customer_id": market["customer"]},
        "quote_id": q["id"],
    }
    assert_problem(partner.post("/v1/remittances", body), 422, "quote_expired")


def test_a_stale_rate_is_refused_for_quotes(partner, market, api_clock):
    api_clock.advance(timedelta(days=4))
    response = partner.post("/v1/quotes", {"corridor": TJ, "send_amount": money("100.00")})
    problem = assert_problem(response, 422, "stale_rate")
    assert problem["newest_rate_date"] == TODAY


def test_a_quote_needs_exactly_one_amount(partner, market):
    both = {"corridor": TJ, "send_amount": money("1.00"), "receive_amount": money("1.00", "TJS")}
    assert_problem(partner.post("/v1/quotes", both), 422, "validation_error")
    assert_problem(partner.post("/v1/quotes", {"corridor": TJ}), 422, "validation_error")


def test_a_remittance_beyond_liquidity_and_cap_is_insufficient_liquidity(partner, market):
    body = remittance_body(market, send_amount=money("1100000.01"), fee=money("0.00"))
    problem = assert_problem(partner.post("/v1/remittances", body), 422, "insufficient_liquidity")
    assert problem["currency"] == "RUB"


def test_failing_releases_liquidity(partner, market):
    r = partner.post("/v1/remittances", remittance_body(market)).get_json()
    failed = partner.post(f"/v1/remittances/{r['id']}/fail", {"reason": "beneficiary unknown"})
    assert failed.get_json()["status"] == "failed"
    (position,) = partner.get("/v1/liquidity").get_json()["data"]
    assert position["available"] == money("1000000.00")
    again = partner.post(f"/v1/remittances/{r['id']}/complete")
    assert_problem(again, 409, "remittance_not_reserved")


def test_another_partners_remittance_is_not_found(partner, other_partner, market):
    r = partner.post("/v1/remittances", remittance_body(market)).get_json()
    for response in (
        other_partner.get(f"/v1/remittances/{r['id']}"),
        other_partner.post(f"/v1/remittances/{r['id']}/complete"),
        other_partner.post(f"/v1/remittances/{r['id']}/fail", {"reason": "x"}),
    ):
        assert_problem(response, 404, "remittance_not_found")


def test_a_partner_cannot_touch_a_remittance_hold_through_the_transactions_api(partner, market):
    r = partner.post("/v1/remittances", remittance_body(market)).get_json()
    response = partner.post(f"/v1/transactions/{r['transaction_id']}/void")
    assert_problem(response, 404, "transaction_not_found")


def test_statements_and_positions_for_partner_and_admin(partner, admin, market):
    partner.post("/v1/remittances", remittance_body(market))
    r = partner.post("/v1/remittances", remittance_body(market, "R-2")).get_json()
    partner.post(f"/v1/remittances/{r['id']}/complete")
    path = f"/v1/liquidity/RUB/statement?from={TODAY}&to={TODAY}"
    (day,) = partner.get(path).get_json()["data"]
    assert (day["opening"], day["remittances_count"], day["remittances"], day["fees"]) == (
        money("0.00"),
        1,
        money("10000.00"),
        money("150.00"),
    )
    assert (day["adjustments"], day["closing"]) == (money("1000000.00"), money("989850.00"))
    as_csv = partner.get(path + "&format=csv")
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows[0]["closing"] == "989850.00"
    admin_view = admin.get(
        f"/v1/partners/{partner.id}/liquidity/RUB/statement?from={TODAY}&to={TODAY}"
    )
    assert admin_view.get_json()["data"] == [day]
    (position,) = admin.get(f"/v1/partners/{partner.id}/liquidity").get_json()["data"]
    assert position["reserved"] == money("10150.00")


def test_a_cap_below_what_is_drawn_is_refused(partner, admin, market):
    admin.post(
        f"/v1/partners/{partner.id}/liquidity/RUB/adjustments",
        {"kind": "withdrawal", "amount": money("1000000.00"), "reference": "BACK-1"},
    )
    partner.post("/v1/remittances", remittance_body(market))
    response = admin.put(
        f"/v1/partners/{partner.id}/liquidity/RUB", {"net_debit_cap": money("10000.00")}
    )
    assert_problem(response, 409, "limit_below_usage")


def test_the_cost_report_flags_corridors(partner, fund_manager, market):
    partner.post(f"/v1/remittances/{_complete(partner, market)}/complete")
    report = fund_manager.get(f"/v1/reports/corridor-costs?from={TODAY}&to={TODAY}").get_json()
    (line,) = report["partners"]
    # USD 200 = 18,000.00 RUB: fee 270.00 + margin 72.00 = 342.00 = 1.90%.
    assert line["usd200"]["send_amount"] == money("18000.00")
    assert line["usd200"]["total_cost_percent"] == "1.90"
    assert (line["count"], line["average_cost_percent"], line["within_3_percent"]) == (
        1,
        "1.90",
        True,
    )
    (corridor,) = [c for c in report["corridors"] if c["corridor"] == TJ]
    assert (corridor["above_5_percent"], corridor["within_3_percent"]) == (False, True)


def _complete(partner, market) -> str:
    return partner.post("/v1/remittances", remittance_body(market)).get_json()["id"]


def test_the_remittance_history_counts_completed_months(partner, market):
    partner.post(f"/v1/remittances/{_complete(partner, market)}/complete")
    _complete(partner, market)  # reserved only: not an inflow yet
    history = partner.get(f"/v1/customers/{market['customer']}/remittance-history?months=3")
    assert history.status_code == 200, history.get_json()
    (tjs,) = history.get_json()["data"]
    assert [m["month"] for m in tjs["months"]] == ["2026-09", "2026-10", "2026-11"]
    assert tjs["months"][-1] == {"month": "2026-11", "count": 1, "amount": money("1187.23", "TJS")}
    assert (tjs["regularity"], tjs["total"]) == (1, money("1187.23", "TJS"))


def test_a_csv_import_reports_each_row(partner, market):
    header = (
        "partner_reference,corridor,sender_name,sender_country,beneficiary_external_id,"
        "send_amount,fee,rate,completed_at\n"
    )
    when = (API_START - timedelta(hours=1)).isoformat()
    text = (
        header
        + f"I-1,{TJ},Rustam,RU,b-1,10000.00,150.00,0.1187232,{when}\n"
        + f"I-2,{TJ},Rustam,RU,b-1,10000.001,150.00,0.1187232,{when}\n"
    )
    response = partner.client.post(
        "/v1/remittance-imports",
        data=text,
        content_type="text/csv",
        headers=partner.headers("imp-1"),
    )
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert (report["accepted"], report["rejected"]) == (1, 1)
    assert report["rejections"][0]["line"] == 3
    assert report["rejections"][0]["code"] == "too_many_decimals"
    assert partner.get(f"/v1/remittance-imports/{report['id']}").get_json() == report
    json_body = partner.post("/v1/remittance-imports", {"a": 1})
    assert_problem(json_body, 415, "unsupported_media_type")


def test_rates_are_never_overwritten(admin, market):
    rate = {"date": TODAY, "source": "cbr", "base": "RUB", "quote": "TJS", "mid_rate": "0.12"}
    assert_problem(admin.post("/v1/fx-rates", {"rates": [rate]}), 409, "fx_rate_conflict")
    same = {**rate, "mid_rate": "0.1192"}
    assert admin.post("/v1/fx-rates", {"rates": [same]}).get_json() == {
        "inserted": 0,
        "unchanged": 1,
    }
    listed = admin.get("/v1/fx-rates?base=RUB&quote=TJS&limit=1").get_json()["data"]
    assert listed == [{**same, "created_at": listed[0]["created_at"]}]


def test_prices_are_versioned(partner, market, api_clock):
    first = partner.get(f"/v1/corridors/{TJ}/pricing").get_json()
    api_clock.advance(timedelta(seconds=1))
    changed = partner.put(f"/v1/corridors/{TJ}/pricing", {**PRICE, "fx_margin": "0.002"})
    assert changed.get_json()["id"] != first["id"]
    assert partner.get(f"/v1/corridors/{TJ}/pricing").get_json()["fx_margin"] == "0.002"
    wrong = partner.put(
        f"/v1/corridors/{TJ}/pricing", {**PRICE, "minimum_fee": money("1.00", "USD")}
    )
    assert_problem(wrong, 422, "currency_mismatch")
    unserved = partner.get("/v1/corridors/RU-RUB-UZ-UZS/pricing")
    assert_problem(unserved, 422, "corridor_not_served")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/customers/{customer}/remittance-history?as_of=0001-01-15&months=2",
        "/v1/customers/{customer}/remittance-history?as_of=9999-12-31",
        "/v1/reports/corridor-costs?from=9999-12-01&to=9999-12-31",
        "/v1/liquidity/RUB/statement?from=9999-12-01&to=9999-12-31",
        "/v1/fx-rates?from=0001-01-01",
    ],
)
def test_dates_at_the_calendars_ends_are_refused_not_a_500(partner, market, path):
    response = partner.get(path.format(customer=market["customer"]))
    assert problem_code(response) == (422, "validation_error")


def test_the_fx_margin_cost_of_a_quote_is_send_times_margin(partner, admin, market):
    # 100.27 RUB at 0.4%: 0.40108 -> 0.40 (total less the rounded fee would say 0.41).
    no_minimum = {**PRICE, "minimum_fee": money("0.00"), "maximum_fee": None}
    no_minimum.pop("maximum_fee")
    assert partner.put(f"/v1/corridors/{TJ}/pricing", no_minimum).status_code == 200
    quote = partner.post("/v1/quotes", {"corridor": TJ, "send_amount": money("100.27")})
    body = quote.get_json()
    assert (body["fx_margin_cost"], body["fee"]) == (money("0.40"), money("1.50"))
