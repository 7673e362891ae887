"""Diaspora-backed credit through the API on both databases: a fund manager sets up a
scheme, its funding and a product; a partner previews, applies and repays for its
customer; the manager decides, disburses and writes off. After each test the trial
balance is zero and stored balances equal their postings (conftest)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.credit.losses import charge_late_fees
from tests.api.conftest import API_START, assert_problem, balances, money, problem_code
from tests.api.test_remittances_api import market, remittance_body  # noqa: F401 (fixture)
from tests.credit_support import assert_loan_matches_postings

PRODUCT = {
    "name": "Workshop loan",
    "min_amount": money("1000.00", "TJS"),
    "max_amount": money("50000.00", "TJS"),
    "min_installments": 3,
    "max_installments": 24,
    "annual_rate_percent": "24",
    "origination_fee": {"kind": "percent", "value": "0.02"},
    "late_fee": {"kind": "flat", "value": "50.00"},
    "scoring": {
        "min_regular_months": 0,
        "max_amount_multiple": "100",
        "max_installment_share": "1",
    },
}


@pytest.fixture
def scheme(fund_manager, partner, admin, market):  # noqa: F811
    """A TJS scheme with 30,000.00 of investors' capital and a 5,000.00 first-loss
    layer, its product, and the partner's customer (the market's beneficiary) with
    eleven months of remittances in history."""
    created = fund_manager.post(
        "/v1/schemes",
        {
            "slug": "tj-fund",
            "name": "Tajik Enterprise Fund",
            "currency": "TJS",
            "country": "TJ",
            "first_loss_percent": "10",
        },
        key=False,
    )
    assert created.status_code == 201, created.get_json()
    scheme_id = created.get_json()["id"]
    for reference, name, kind, amount in (
        ("INV-1", "Dilshod (Moscow)", "investor", "20000.00"),
        ("INV-2", "Malika (Berlin)", "investor", "10000.00"),
        ("FL-1", "Sponsor", "first_loss", "5000.00"),
    ):
        pledged = fund_manager.post(
            f"/v1/schemes/{scheme_id}/contributions",
            {
                "kind": kind,
                "reference": reference,
                "investor_name": name,
                "amount": money(amount, "TJS"),
            },
            key=False,
        )
        assert pledged.status_code == 201, pledged.get_json()
        received = fund_manager.post(
            f"/v1/schemes/{scheme_id}/contributions/{pledged.get_json()['id']}/receive"
        )
        assert received.status_code == 200, received.get_json()
    product = fund_manager.post(f"/v1/schemes/{scheme_id}/products", PRODUCT, key=False)
    assert product.status_code == 201, product.get_json()
    history(admin, partner)
    return {"id": scheme_id, "product": product.get_json()["id"], "customer": market["customer"]}


def history(admin, partner) -> None:
    """Eleven monthly remittances to the beneficiary (1,187.23 TJS each), imported as a
    partner would, with the mid-rates of their days loaded first."""
    days = []
    for back in range(1, 12):
        month_index = API_START.month - 1 - back
        days.append(
            API_START.replace(
                year=API_START.year + month_index // 12, month=month_index % 12 + 1, day=15
            )
        )
    rates = [
        {
            "date": d.date().isoformat(),
            "source": "cbr",
            "base": "RUB",
            "quote": "TJS",
            "mid_rate": "0.1192",
        }
        for d in days
    ]
    assert admin.post("/v1/fx-rates", {"rates": rates}, key=False).status_code == 201
    text = (
        "partner_reference,corridor,sender_name,sender_country,beneficiary_external_id,send_amount,fee,rate,completed_at\n"
        + "".join(
            f"H-{d:%Y%m},RU-RUB-TJ-TJS,Rustam,RU,b-1,10000.00,150.00,0.1187232,{d.isoformat()}\n"
            for d in days
        )
    )
    imported = partner.client.post(
        "/v1/remittance-imports",
        data=text,
        content_type="text/csv",
        headers=partner.headers("hist"),
    )
    assert imported.get_json()["accepted"] == 11, imported.get_json()


def application(scheme, amount="3000.00", installments=12):
    return {
        "customer_id": scheme["customer"],
        "scheme_id": scheme["id"],
        "product_id": scheme["product"],
        "amount": money(amount, "TJS"),
        "installments": installments,
        "purpose": "sewing workshop",
        "description": "two machines and fabric",
    }


def disbursed(partner, fund_manager, scheme, **kwargs):
    applied = partner.post("/v1/loan-applications", application(scheme, **kwargs), key=False)
    assert applied.status_code == 201, applied.get_json()
    aid = applied.get_json()["id"]
    approved = fund_manager.post(f"/v1/loan-applications/{aid}/approve", {}, key=False)
    assert approved.get_json()["status"] == "approved", approved.get_json()
    loan = fund_manager.post(f"/v1/loan-applications/{aid}/disburse", {})
    assert loan.status_code == 201, loan.get_json()
    return loan.get_json()


def test_the_fund_position_shows_capital_layer_and_investors(fund_manager, scheme):
    position = fund_manager.get(f"/v1/schemes/{scheme['id']}/position").get_json()
    assert (position["capital"], position["first_loss"], position["available"]) == (
        money("30000.00", "TJS"),
        money("5000.00", "TJS"),
        money("35000.00", "TJS"),
    )
    assert [(i["name"], i["share_percent"]) for i in position["investors"]] == [
        ("Dilshod (Moscow)", "66.67"),
        ("Malika (Berlin)", "33.33"),
    ]


def test_a_schedule_preview_as_json_and_as_csv(partner, scheme):
    body = {"product_id": scheme["product"], "amount": money("3000.00", "TJS"), "installments": 12}
    preview = partner.post("/v1/schedule-previews", body, key=False).get_json()
    assert len(preview["installments"]) == 12
    assert preview["principal"] == money("3000.00", "TJS")
    assert preview["installments"][0]["interest"] == money("60.00", "TJS")  # 3,000 x 24% / 12
    as_csv = partner.post("/v1/schedule-previews", {**body, "format": "csv"}, key=False)
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert as_csv.mimetype == "text/csv" and len(rows) == 12
    assert sum(Decimal(r["principal"]) for r in rows) == Decimal("3000.00")
    inline = partner.post(
        "/v1/schedule-previews",
        {
            "terms": {"annual_rate_percent": "12", "interest_method": "flat"},
            "amount": money("1200.00", "TJS"),
            "installments": 12,
        },
        key=False,
    ).get_json()
    assert {i["interest"]["amount"] for i in inline["installments"]} == {"12.00"}


def test_a_loan_from_application_to_repayment(partner, fund_manager, scheme, api_clock, database):
    applied = partner.post("/v1/loan-applications", application(scheme), key=False).get_json()
    assert applied["recommendation"] == "approved" and applied["status"] == "submitted"
    assert {r["code"] for r in applied["score"]["reasons"]} >= {"regular_inflows", "no_arrears"}
    loan = fund_manager.post(f"/v1/loan-applications/{applied['id']}/approve", {}, key=False)
    loan = fund_manager.post(f"/v1/loan-applications/{applied['id']}/disburse", {}).get_json()
    assert (loan["status"], loan["origination_fee"], loan["outstanding_principal"]) == (
        "active",
        money("60.00", "TJS"),
        money("3000.00", "TJS"),
    )
    wallet = loan["borrower_account_id"]
    # Eleven remittances of 1,187.23 and the loan's 2,940.00 (3,000.00 less the 2% fee).
    assert balances(partner, wallet)["posted"] == "15999.53"
    first = loan["schedule"][0]
    due_total = sum(float(v["amount"]) for v in first["due"].values())
    api_clock.set(API_START.replace(month=12))
    paid = partner.post(
        f"/v1/loans/{loan['id']}/repayments",
        {"amount": money(f"{due_total:.2f}", "TJS"), "reference": "P-1"},
    )
    assert paid.status_code == 201, paid.get_json()
    assert [a["component"] for a in paid.get_json()["allocation"]] == ["interest", "principal"]
    detail = partner.get(f"/v1/loans/{loan['id']}").get_json()
    assert detail["schedule"][0]["status"] == "paid"
    assert detail["days_past_due"] == 0
    assert [t["metadata"]["credit"]["event"] for t in detail["statement"]] == [
        "loan.disbursed",
        "loan.repayment.received",
    ]
    assert_loan_matches_postings(database, uuid.UUID(loan["id"]), as_of=api_clock.now().date())


def test_a_late_loan_shows_its_arrears_and_pays_the_penalty_first(
    partner, fund_manager, scheme, api_clock, database
):
    loan = disbursed(partner, fund_manager, scheme)
    api_clock.set(API_START.replace(month=12, day=12))  # ten days after the due date
    day = api_clock.now()
    assert database.run(
        lambda c: charge_late_fees(c, uuid.UUID(loan["id"]), as_of=day.date(), now=day)
    ) == [(1, 5_000)]
    detail = partner.get(f"/v1/loans/{loan['id']}").get_json()
    assert (detail["days_past_due"], detail["schedule"][0]["status"]) == (10, "overdue")
    assert detail["fees"] == money("50.00", "TJS")
    paid = partner.post(
        f"/v1/loans/{loan['id']}/repayments", {"amount": money("100.00", "TJS"), "reference": "L-1"}
    ).get_json()
    assert paid["allocation"][0] == {
        "installment": 1,
        "component": "penalty",
        "amount": money("50.00", "TJS"),
    }


def test_a_prepayment_and_an_overpayment(partner, fund_manager, scheme):
    loan = disbursed(partner, fund_manager, scheme)
    paid = partner.post(
        f"/v1/loans/{loan['id']}/repayments",
        {"amount": money("1000.00", "TJS"), "reference": "PRE"},
    ).get_json()
    assert float(paid["prepaid"]["amount"]) > 0
    detail = partner.get(f"/v1/loans/{loan['id']}").get_json()
    assert detail["schedule_version"] == 2 and len(detail["schedule"]) < 12
    too_much = partner.post(
        f"/v1/loans/{loan['id']}/repayments", {"amount": money("99999.00", "TJS"), "reference": "X"}
    )
    assert_problem(too_much, 422, "overpayment")


def test_a_completed_remittance_is_swept_into_the_loan(partner, fund_manager, scheme, market):  # noqa: F811
    loan = disbursed(partner, fund_manager, scheme)
    opted = partner.put(f"/v1/loans/{loan['id']}/sweep", {"percent": "0.2", "cap": "due"})
    assert opted.get_json()["sweep"] == {"percent": "0.2", "cap": "due"}
    r = partner.post("/v1/remittances", remittance_body(market, "SW-1")).get_json()
    done = partner.post(f"/v1/remittances/{r['id']}/complete").get_json()
    (sweep,) = done["sweeps"]
    assert sweep["loan_id"] == loan["id"]
    assert sweep["amount"] == money("237.44", "TJS")  # 20% of 1,187.23, rounded down
    repayments = partner.get(f"/v1/loans/{loan['id']}").get_json()["repayments"]
    assert [(p["source"], p["remittance_id"]) for p in repayments] == [("sweep", r["id"])]


def test_a_write_off_and_a_recovery(partner, fund_manager, scheme, api_clock, database):
    loan = disbursed(partner, fund_manager, scheme)
    api_clock.advance(timedelta(days=200))
    written = fund_manager.post(f"/v1/loans/{loan['id']}/write-off", {"reason": "absconded"})
    assert written.status_code == 200, written.get_json()
    assert (written.get_json()["status"], written.get_json()["written_off"]) == (
        "written_off",
        money("3000.00", "TJS"),
    )
    position = fund_manager.get(f"/v1/schemes/{scheme['id']}/position").get_json()
    # The first-loss layer absorbed 10% of the 3,000.00 ever disbursed.
    assert position["first_loss"] == money("4700.00", "TJS")
    recovered = partner.post(
        f"/v1/loans/{loan['id']}/repayments", {"amount": money("100.00", "TJS"), "reference": "R"}
    )
    assert recovered.get_json()["source"] == "recovery"
    assert_loan_matches_postings(database, uuid.UUID(loan["id"]), as_of=api_clock.now().date())


def test_decisions_are_the_schemes_managers_and_nobody_elses(partner, fund_manager, scheme, admin):
    applied = partner.post("/v1/loan-applications", application(scheme), key=False).get_json()
    assert_problem(
        partner.post(f"/v1/loan-applications/{applied['id']}/approve", {}, key=False),
        403,
        "forbidden",
    )
    assert_problem(
        admin.post(f"/v1/loan-applications/{applied['id']}/approve", {}, key=False),
        403,
        "forbidden",
    )
    fund_manager.post(f"/v1/loan-applications/{applied['id']}/decline", {"note": "no"}, key=False)
    again = fund_manager.post(f"/v1/loan-applications/{applied['id']}/approve", {}, key=False)
    assert_problem(again, 409, "application_not_submitted")


def test_another_partner_sees_neither_applications_nor_loans(
    partner, other_partner, fund_manager, scheme
):
    loan = disbursed(partner, fund_manager, scheme)
    assert_problem(other_partner.get(f"/v1/loans/{loan['id']}"), 404, "loan_not_found")
    assert_problem(
        other_partner.get(f"/v1/loan-applications/{loan['application_id']}"),
        404,
        "application_not_found",
    )
    pay = other_partner.post(
        f"/v1/loans/{loan['id']}/repayments", {"amount": money("1.00", "TJS"), "reference": "x"}
    )
    assert_problem(pay, 404, "loan_not_found")
    assert other_partner.get("/v1/loans").get_json()["data"] == []


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"amount": money("999.99", "TJS")}, 422, "validation_error"),
        ({"amount": money("3000.00", "RUB")}, 422, "currency_mismatch"),
        ({"amount": money("3000.001", "TJS")}, 422, "too_many_decimals"),
        ({"installments": 25}, 422, "validation_error"),
        ({"scheme_id": "00000000-0000-0000-0000-000000000001"}, 404, "scheme_not_found"),
    ],
)
def test_bad_applications_get_a_problem(partner, scheme, changes, status, code):
    response = partner.post("/v1/loan-applications", {**application(scheme), **changes}, key=False)
    assert problem_code(response) == (status, code), response.get_json()


def test_an_application_is_withdrawn_by_its_partner_or_cancelled_by_the_manager(
    partner, other_partner, fund_manager, scheme
):
    applied = partner.post("/v1/loan-applications", application(scheme), key=False).get_json()
    assert_problem(
        other_partner.post(f"/v1/loan-applications/{applied['id']}/cancel", {}, key=False),
        404,
        "application_not_found",
    )
    withdrawn = partner.post(
        f"/v1/loan-applications/{applied['id']}/cancel", {"note": "changed plans"}, key=False
    )
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "cancelled"
    approved = partner.post("/v1/loan-applications", application(scheme), key=False).get_json()
    fund_manager.post(f"/v1/loan-applications/{approved['id']}/approve", {}, key=False)
    before = fund_manager.get(f"/v1/schemes/{scheme['id']}/position").get_json()
    cancelled = fund_manager.post(f"/v1/loan-applications/{approved['id']}/cancel", {}, key=False)
    assert cancelled.get_json()["status"] == "cancelled"
    after = fund_manager.get(f"/v1/schemes/{scheme['id']}/position").get_json()
    assert before["committed"] == money("3000.00", "TJS")
    assert after["committed"] == money("0.00", "TJS")
    assert_problem(
        fund_manager.post(f"/v1/loan-applications/{approved['id']}/disburse", {}),
        409,
        "application_not_submitted",
    )


def test_a_schedule_past_the_calendars_end_is_refused(partner, scheme):
    body = {
        "product_id": scheme["product"],
        "amount": money("3000.00", "TJS"),
        "installments": 24,
        "disbursement_date": "9998-06-01",
    }
    response = partner.post("/v1/schedule-previews", body, key=False)
    assert_problem(response, 422, "validation_error")


def test_a_first_loss_share_with_eighteen_decimals_is_stored_exactly(fund_manager):
    created = fund_manager.post(
        "/v1/schemes",
        {
            "slug": "kg-fund",
            "name": "Kyrgyz Fund",
            "currency": "KGS",
            "country": "KG",
            "first_loss_percent": "33.333333333333333333",
        },
        key=False,
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["first_loss_percent"] == "33.333333333333333333"
