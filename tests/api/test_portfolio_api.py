"""The portfolio through the API on both databases: the scheduler's jobs run for the
days after a disbursement, then a fund manager reads the figures (from the snapshot
and live, equal), the history, the loan tape; a partner sees only its own customers'
loans; provisioning rates and platform fees are set; an admin reads the run records."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from ledger.jobs.daily import JOB_NAMES, run_day
from ledger.jobs.simulation import morning_after
from tests.api.conftest import API_START, assert_problem, money
from tests.api.test_credit_api import disbursed, scheme  # noqa: F401 (fixture)
from tests.api.test_remittances_api import market  # noqa: F401 (fixture)

DISBURSED = API_START.date()  # 2 November 2026


def run_days(database, last: date) -> None:
    day = DISBURSED
    while day <= last:
        outcomes = run_day(database, day, now=morning_after(day))
        assert {o.status for o in outcomes} == {"succeeded"}, outcomes
        day += timedelta(days=1)


def test_a_fund_manager_reads_the_figures_from_the_snapshot_and_live(
    partner,
    fund_manager,
    scheme,  # noqa: F811
    database,
):
    loan = disbursed(partner, fund_manager, scheme)
    last = DISBURSED + timedelta(days=9)
    run_days(database, last)
    query = f"/v1/portfolio?scheme={scheme['id']}&as_of={last}"
    stored = fund_manager.get(query)
    assert stored.status_code == 200, stored.get_json()
    stored = stored.get_json()
    live = fund_manager.get(query + f"&from={last.replace(day=1)}").get_json()
    assert (stored["source"], live["source"]) == ("snapshot", "live")
    assert {k: v for k, v in stored.items() if k != "source"} == {
        k: v for k, v in live.items() if k != "source"
    }
    assert stored["gross_loan_portfolio"] == money("3000.00", "TJS")
    # Without a date: the latest snapshot (the last closed business day).
    latest = fund_manager.get(f"/v1/portfolio?scheme={scheme['id']}").get_json()
    assert (latest["source"], latest["as_of"]) == ("snapshot", str(last))
    assert (stored["active_loans"], stored["par30"]["ratio"]) == (1, "0.0000")
    # Nine days of November's interest (60.00 over 30 days: 18.00) and the 60.00
    # origination fee were the period's income.
    assert stored["income_in_period"] == money("78.00", "TJS")
    history = fund_manager.get(
        f"/v1/portfolio/history?scheme={scheme['id']}&from={DISBURSED}&to={last}"
    ).get_json()
    assert [p["date"] for p in history["data"]] == [
        str(DISBURSED + timedelta(days=n)) for n in range(10)
    ]
    tape = fund_manager.get(f"/v1/portfolio/loan-tape?scheme={scheme['id']}&as_of={last}")
    assert tape.mimetype == "text/csv"
    (row,) = csv.DictReader(io.StringIO(tape.get_data(as_text=True)))
    assert (row["loan_id"], row["outstanding_principal"], row["interest_accrued"]) == (
        loan["id"],
        "3000.00",
        "18.00",
    )


def test_a_partner_sees_only_its_own_customers_loans(
    partner,
    other_partner,
    fund_manager,
    scheme,  # noqa: F811
):
    disbursed(partner, fund_manager, scheme)
    own = partner.get(f"/v1/portfolio?scheme={scheme['id']}").get_json()
    other = other_partner.get(f"/v1/portfolio?scheme={scheme['id']}").get_json()
    assert (own["loans"], other["loans"]) == (1, 0)
    assert own["source"] == "live"  # a partner's view is never the scheme's snapshot
    lines = other_partner.get("/v1/portfolio/loan-tape").get_data(as_text=True).splitlines()
    assert len(lines) == 1  # the header only
    assert_problem(partner.get(f"/v1/portfolio/history?scheme={scheme['id']}"), 403, "forbidden")


def test_another_managers_scheme_is_not_found_and_bad_periods_are_refused(
    fund_manager,
    admin,
    scheme,  # noqa: F811
):
    assert_problem(
        admin.get("/v1/portfolio?scheme=00000000-0000-0000-0000-000000000001"),
        404,
        "scheme_not_found",
    )
    assert_problem(
        fund_manager.get(f"/v1/portfolio?scheme={scheme['id']}&as_of=2026-11-01&from=2026-11-20"),
        422,
        "validation_error",
    )
    assert_problem(fund_manager.get("/v1/portfolio?currency=KGS"), 422, "validation_error")


def test_provisioning_rates_are_the_schemes_own_or_the_defaults(fund_manager, scheme):  # noqa: F811
    path = f"/v1/schemes/{scheme['id']}/provisioning"
    assert fund_manager.get(path).get_json()["rates"] == {
        "current": "1",
        "1-30": "10",
        "31-60": "25",
        "61-90": "50",
        "91-180": "75",
        "180+": "100",
    }
    changed = fund_manager.put(path, {"rates": {"current": "2", "1-30": "15"}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["rates"]["current"] == "2"
    assert_problem(fund_manager.put(path, {"rates": {"2-3": "5"}}), 422, "validation_error")
    assert_problem(fund_manager.put(path, {"rates": {"current": "101"}}), 422, "validation_error")


def test_a_partners_platform_fee_is_agreed_and_listed(admin, partner):
    path = f"/v1/principals/{partner.id}/platform-fees"
    agreed = admin.post(path, {"percent": "0.25", "starts_on": "2026-11-01"})
    assert agreed.status_code == 201, agreed.get_json()
    listed = admin.get(path).get_json()
    assert [a["percent"] for a in listed["agreements"]] == ["0.25"]
    assert listed["charges"] == []
    assert_problem(
        admin.post(path, {"percent": "11", "starts_on": "2026-12-01"}), 422, "validation_error"
    )
    assert_problem(
        admin.post(path, {"percent": "0.3", "starts_on": "2026-11-01"}), 422, "validation_error"
    )


def test_an_admin_reads_the_run_records(admin, database):
    run_day(database, DISBURSED, now=morning_after(DISBURSED))
    runs = admin.get(f"/v1/job-runs?since={DISBURSED}").get_json()["data"]
    assert [r["job"] for r in runs] == sorted(JOB_NAMES)
    assert {r["status"] for r in runs} == {"succeeded"}
