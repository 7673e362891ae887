"""Accounts of a partner: open, balances, balance as of, statement, close, list."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest

from tests.api.conftest import (
    API_START,
    assert_problem,
    balances,
    fund,
    funded_pair,
    money,
    open_account,
    problem_code,
    transfer_body,
)

ZERO = {"posted": "0.00", "pending": "0.00", "available": "0.00"}


def post(partner, body, expected: int = 201) -> dict:
    response = partner.post("/v1/transactions", body)
    assert response.status_code == expected, response.get_json()
    return response.get_json()


# ------------------------------------------------------------------------ open


def test_a_partner_opens_an_account(partner):
    response = partner.post(
        "/v1/accounts",
        {
            "name": "Main wallet",
            "type": "liability",
            "currency": "TJS",
            "code": "main",
            "metadata": {"branch": "Dushanbe", "tier": 2},
        },
        key=False,
    )
    assert response.status_code == 201, response.get_json()
    account = response.get_json()
    assert account["code"] == "partner:partner-a:main"
    assert account["name"] == "Main wallet"
    assert (account["type"], account["normal_side"], account["currency"]) == (
        "liability",
        "credit",
        "TJS",
    )
    assert account["status"] == "open"
    assert account["customer_id"] is None
    assert account["allow_overdraft"] is False
    assert account["overdraft_limit"] is None
    assert account["metadata"] == {"branch": "Dushanbe", "tier": 2}
    assert account["created_at"] == API_START.isoformat()
    assert account["closed_at"] is None
    assert account["balances"] == {k: money(v, "TJS") for k, v in ZERO.items()}
    assert partner.get(f"/v1/accounts/{account['id']}").get_json() == account


def test_without_a_code_one_is_generated_under_the_partners_namespace(partner):
    first, second = open_account(partner), open_account(partner)
    assert first["code"].startswith("partner:partner-a:")
    assert first["code"] != second["code"]


def test_the_normal_side_follows_the_type(partner):
    expected = {
        "asset": "debit",
        "expense": "debit",
        "liability": "credit",
        "equity": "credit",
        "income": "credit",
    }
    sides = {kind: open_account(partner, type=kind)["normal_side"] for kind in expected}
    assert sides == expected


def test_an_account_for_a_customer_carries_its_id(partner):
    customer = partner.post(
        "/v1/customers",
        {"external_id": "c-1", "full_name": "A", "country": "TJ", "kind": "migrant"},
        key=False,
    ).get_json()
    account = open_account(partner, customer_id=customer["id"])
    assert account["customer_id"] == customer["id"]


def test_an_unknown_customer_is_404(partner):
    response = partner.post(
        "/v1/accounts",
        {"name": "W", "type": "liability", "currency": "RUB", "customer_id": str(uuid.uuid4())},
        key=False,
    )
    assert_problem(response, 404, "customer_not_found")
    assert partner.get("/v1/accounts").get_json()["data"] == []


def test_an_overdraft_limit_is_stored_in_the_accounts_currency(partner):
    account = open_account(
        partner, type="asset", allow_overdraft=True, overdraft_limit=money("50.00")
    )
    assert account["allow_overdraft"] is True
    assert account["overdraft_limit"] == money("50.00")


VALID = {"name": "Wallet", "type": "liability", "currency": "RUB"}


def error_at(body: dict, path: list[str]) -> object:
    errors = body.get("errors", {})
    for part in path:
        errors = errors.get(part, {}) if isinstance(errors, dict) else {}
    return errors


def test_a_field_the_schema_refuses_is_named_in_errors(partner):
    overdraft = {"allow_overdraft": True}
    cases = [
        ({"colour": "red"}, ["colour"]),
        ({"type": "savings"}, ["type"]),
        ({"currency": "rub"}, ["currency"]),
        ({"currency": "RUBLE"}, ["currency"]),
        ({"name": ""}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"allow_overdraft": "maybe"}, ["allow_overdraft"]),
        ({"customer_id": "not-a-uuid"}, ["customer_id"]),
        ({"metadata": ["not", "an", "object"]}, ["metadata"]),
        # money amounts are decimal strings: a JSON number is refused, never rounded
        (
            {**overdraft, "overdraft_limit": {"amount": 50, "currency": "RUB"}},
            ["overdraft_limit", "amount"],
        ),
        (
            {**overdraft, "overdraft_limit": {"amount": 0.1, "currency": "RUB"}},
            ["overdraft_limit", "amount"],
        ),
        ({**overdraft, "overdraft_limit": money("-1.00")}, ["overdraft_limit", "amount"]),
        ({**overdraft, "overdraft_limit": money("1e3")}, ["overdraft_limit", "amount"]),
        ({**overdraft, "overdraft_limit": money(" 1.00")}, ["overdraft_limit", "amount"]),
        ({**overdraft, "overdraft_limit": {"amount": "1.00"}}, ["overdraft_limit", "currency"]),
    ]
    answers = {}
    for fields, path in cases:
        response = partner.post("/v1/accounts", {**VALID, **fields}, key=False)
        answers[repr(fields)] = (*problem_code(response), bool(error_at(response.get_json(), path)))
    assert answers == {key: (422, "validation_error", True) for key in answers}
    assert len(answers) == len(cases)


def test_a_value_the_ledger_refuses_is_422_with_its_code(partner):
    overdraft = {"allow_overdraft": True}
    cases = {
        "unknown currency": ({"currency": "XYZ"}, "unknown_currency"),
        "no minor unit": ({"currency": "XAU"}, "unknown_currency"),
        "too many decimals": (
            {**overdraft, "overdraft_limit": money("1.001")},
            "too_many_decimals",
        ),
        "limit in another currency": (
            {**overdraft, "overdraft_limit": money("1.00", "USD")},
            "validation_error",
        ),
        "limit without overdraft": ({"overdraft_limit": money("1.00")}, "validation_error"),
        "code with a space": ({"code": "has space"}, "validation_error"),
        "blank name": ({"name": "   "}, "validation_error"),
        "float in metadata": ({"metadata": {"rate": 1.5}}, "validation_error"),
        "NUL in metadata": ({"metadata": {"k\x00": "v"}}, "validation_error"),
    }
    answers = {
        name: problem_code(partner.post("/v1/accounts", {**VALID, **fields}, key=False))
        for name, (fields, _) in cases.items()
    }
    assert answers == {name: (422, code) for name, (_, code) in cases.items()}
    assert partner.get("/v1/accounts").get_json()["data"] == []


def test_a_taken_code_is_409_account_code_taken(partner, other_partner):
    open_account(partner, code="main")
    problem = assert_problem(
        partner.post("/v1/accounts", {**VALID, "code": "main"}, key=False),
        409,
        "account_code_taken",
    )
    assert problem["account_code"] == "partner:partner-a:main"
    assert open_account(other_partner, code="main")["code"] == "partner:partner-b:main"


def test_an_unknown_or_malformed_account_id_is_404(partner):
    funded_pair(partner)  # accounts 1 and 2 exist: Arabic-Indic one must not alias 1
    idents = [
        "abc",
        "-1",
        "0",
        "1.0",
        "%C2%B2",
        "%D9%A1",
        "99999999999999999999",
        "9223372036854775808",
        "9223372036854775807",
    ]
    answers = {}
    for ident in idents:
        for suffix in ("", "/statement", "/balance?as_of=2026-11-02T09:00:00Z"):
            answers[ident + suffix] = problem_code(partner.get(f"/v1/accounts/{ident}{suffix}"))
        close = partner.post(f"/v1/accounts/{ident}/close", key=False)
        answers[ident + "/close"] = problem_code(close)
    assert answers == {key: (404, "account_not_found") for key in answers}
    assert len(answers) == 4 * len(idents)


# -------------------------------------------------------------------- balances


def test_a_hold_reserves_funds_without_posting_them(partner):
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "100.00")
    post(partner, transfer_body(wallet, settlement, "30.00", pending=True))
    assert balances(partner, wallet) == {
        "posted": "100.00",
        "pending": "-30.00",
        "available": "70.00",
    }
    assert balances(partner, settlement) == {
        "posted": "100.00",
        "pending": "-30.00",
        "available": "70.00",
    }


def test_a_pending_inflow_does_not_raise_the_available_balance(partner):
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "100.00")
    post(partner, transfer_body(wallet, settlement, "30.00", pending=True))
    post(partner, transfer_body(settlement, wallet, "20.00", pending=True))
    assert balances(partner, wallet) == {
        "posted": "100.00",
        "pending": "-10.00",
        "available": "70.00",
    }


def test_holds_cannot_together_spend_more_than_is_available(partner):
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "100.00")
    post(partner, transfer_body(wallet, settlement, "60.00", pending=True))
    response = partner.post(
        "/v1/transactions", transfer_body(wallet, settlement, "40.01", pending=True)
    )
    problem = assert_problem(response, 422, "insufficient_funds")
    assert (problem["available_minor"], problem["required_minor"]) == (4000, 4001)
    assert balances(partner, wallet)["available"] == "40.00"


def test_an_overdraft_limit_is_a_floor_not_a_suggestion(partner):
    settlement, _ = funded_pair(partner)
    credit_line = open_account(
        partner, name="Credit line", allow_overdraft=True, overdraft_limit=money("50.00")
    )["id"]
    post(partner, transfer_body(credit_line, settlement, "50.00"))
    assert balances(partner, credit_line) == {
        "posted": "-50.00",
        "pending": "0.00",
        "available": "-50.00",
    }
    response = partner.post("/v1/transactions", transfer_body(credit_line, settlement, "0.01"))
    problem = assert_problem(response, 422, "insufficient_funds")
    assert problem["floor_minor"] == -5000


# ------------------------------------------------------------------ balance as of


@pytest.fixture
def history(partner) -> dict:
    """Wallet: +100 on 20 Oct, +50 on 25 Oct, -30 on 28 Oct, +25 now (2 Nov), a hold."""
    settlement, wallet = funded_pair(partner)
    post(partner, transfer_body(settlement, wallet, "100.00", effective_at="2026-10-20T00:00:00Z"))
    post(partner, transfer_body(settlement, wallet, "50.00", effective_at="2026-10-25T00:00:00Z"))
    post(partner, transfer_body(wallet, settlement, "30.00", effective_at="2026-10-28T00:00:00Z"))
    post(partner, transfer_body(settlement, wallet, "25.00"))
    post(partner, transfer_body(wallet, settlement, "5.00", pending=True))
    voided = post(partner, transfer_body(settlement, wallet, "7.00", pending=True))
    assert partner.post(f"/v1/transactions/{voided['id']}/void").status_code == 200
    return {"settlement": settlement, "wallet": wallet}


def test_the_balance_as_of_counts_postings_effective_by_then(partner, history):
    expected = {
        "2026-10-19T23:59:59Z": "0.00",
        "2026-10-20T00:00:00Z": "100.00",  # at the instant: counted
        "2026-10-24T12:00:00Z": "100.00",
        "2026-10-25T05:00:00+05:00": "150.00",  # 25 Oct 00:00 UTC, in Dushanbe's zone
        "2026-10-28T00:00:00Z": "120.00",
        "2026-11-02T09:00:00Z": "145.00",  # holds and voided holds never count
        "2030-01-01T00:00:00Z": "145.00",
    }
    answers = {}
    for as_of in expected:
        url = f"/v1/accounts/{history['wallet']}/balance?as_of={as_of.replace('+', '%2B')}"
        body = partner.get(url).get_json()
        assert body["account_id"] == history["wallet"]
        assert body["posted"]["currency"] == "RUB"
        answers[as_of] = body["posted"]["amount"]
    assert answers == expected


def test_a_bad_as_of_is_a_validation_error(partner):
    _, wallet = funded_pair(partner)
    queries = [
        "",
        "as_of=2026-11-02T09:00:00",
        "as_of=yesterday",
        "as_of=9999-12-31T23:59:59-14:00",
    ]
    answers = {q: problem_code(partner.get(f"/v1/accounts/{wallet}/balance?{q}")) for q in queries}
    assert answers == {q: (422, "validation_error") for q in queries}


# -------------------------------------------------------------------- statement


def lines(body: dict) -> list[tuple[str, str, str]]:
    return [
        (line["direction"], line["amount"]["amount"], line["running_balance"]["amount"])
        for line in body["data"]
    ]


def test_a_statement_lists_posted_lines_oldest_first_with_running_balances(partner, history):
    response = partner.get(f"/v1/accounts/{history['wallet']}/statement")
    assert response.status_code == 200
    body = response.get_json()
    assert body["opening_balance"] == money("0.00")
    assert body["currency"] == "RUB"
    assert lines(body) == [
        ("credit", "100.00", "100.00"),
        ("credit", "50.00", "150.00"),
        ("debit", "30.00", "120.00"),
        ("credit", "25.00", "145.00"),
    ]
    assert [line["effective_at"][:10] for line in body["data"]] == [
        "2026-10-20",
        "2026-10-25",
        "2026-10-28",
        "2026-11-02",
    ]
    assert body["has_more"] is False
    assert body["next_cursor"] is None


def test_a_statement_running_balance_follows_the_accounts_normal_side(partner, history):
    body = partner.get(f"/v1/accounts/{history['settlement']}/statement").get_json()
    assert [line[2] for line in lines(body)] == ["100.00", "150.00", "120.00", "145.00"]
    assert [line[0] for line in lines(body)] == ["debit", "debit", "credit", "debit"]


def test_a_statement_pages_carry_the_running_balance_across(partner, history):
    url = f"/v1/accounts/{history['wallet']}/statement?limit=3"
    first = partner.get(url).get_json()
    assert lines(first)[-1] == ("debit", "30.00", "120.00")
    assert first["has_more"] is True
    second = partner.get(f"{url}&starting_after={first['next_cursor']}").get_json()
    assert second["opening_balance"] == money("120.00")
    assert lines(second) == [("credit", "25.00", "145.00")]
    assert second["has_more"] is False
    assert second["next_cursor"] is None


def test_a_statement_walks_one_line_per_page(partner, history):
    url = f"/v1/accounts/{history['wallet']}/statement?limit=1"
    running, openings = [], []
    for _ in range(5):
        body = partner.get(url).get_json()
        openings.append(body["opening_balance"]["amount"])
        running.extend(line[2] for line in lines(body))
        if not body["has_more"]:
            break
        url = f"/v1/accounts/{history['wallet']}/statement?limit=1"
        url += f"&starting_after={body['next_cursor']}"
    assert running == ["100.00", "150.00", "120.00", "145.00"]
    assert openings == ["0.00", "100.00", "150.00", "120.00"]


def test_a_statement_window_opens_with_the_balance_before_it(partner, history):
    url = f"/v1/accounts/{history['wallet']}/statement"
    url += "?from=2026-10-24T00:00:00Z&to=2026-10-29T00:00:00Z"
    body = partner.get(url).get_json()
    assert body["opening_balance"] == money("100.00")
    assert lines(body) == [("credit", "50.00", "150.00"), ("debit", "30.00", "120.00")]
    assert (body["from"], body["to"]) == ("2026-10-24T00:00:00+00:00", "2026-10-29T00:00:00+00:00")


def test_a_statement_window_end_is_exclusive(partner, history):
    url = f"/v1/accounts/{history['wallet']}/statement"
    url += "?from=2026-10-20T00:00:00Z&to=2026-10-25T00:00:00Z"
    assert lines(partner.get(url).get_json()) == [("credit", "100.00", "100.00")]


def test_a_statement_of_a_new_account_is_empty(partner):
    _, wallet = funded_pair(partner)
    body = partner.get(f"/v1/accounts/{wallet}/statement").get_json()
    assert (body["opening_balance"], body["data"], body["has_more"]) == (money("0.00"), [], False)


def crafted_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_an_invalid_statement_cursor_is_422_invalid_cursor(partner, history):
    some = str(uuid.uuid4())
    cursors = {
        "garbage": "garbage",
        "superscript": "%C2%B2",
        "bad uuid": crafted_cursor("2026-11-02T09:00:00+00:00|not-a-uuid|0"),
        "naive time": crafted_cursor(f"2026-11-02T09:00:00|{some}|0"),
        "leg beyond 64 bits": crafted_cursor(
            f"2026-11-02T09:00:00+00:00|{some}|99999999999999999999"
        ),
        "negative leg": crafted_cursor(f"2026-11-02T09:00:00+00:00|{some}|-1"),
    }
    url = f"/v1/accounts/{history['wallet']}/statement?starting_after="
    answers = {name: problem_code(partner.get(url + cursor)) for name, cursor in cursors.items()}
    assert answers == {name: (422, "invalid_cursor") for name in cursors}


def test_a_bad_statement_query_is_a_validation_error(partner, history):
    queries = [
        "limit=0",
        "limit=1001",
        "from=2026-10-01T00:00:00",  # naive
        "from=2026-10-29T00:00:00Z&to=2026-10-24T00:00:00Z",  # to before from
        "from=9999-12-31T23:59:59-14:00",  # beyond what UTC can hold
    ]
    url = f"/v1/accounts/{history['wallet']}/statement?"
    answers = {q: problem_code(partner.get(url + q)) for q in queries}
    assert answers == {q: (422, "validation_error") for q in queries}


# ------------------------------------------------------------------------ close


def test_an_account_with_a_balance_cannot_close(partner):
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "10.00")
    problem = assert_problem(
        partner.post(f"/v1/accounts/{wallet}/close", key=False), 409, "account_not_empty"
    )
    assert problem["posted_minor"] == 1000
    assert partner.get(f"/v1/accounts/{wallet}").get_json()["status"] == "open"


def test_an_account_with_only_a_hold_cannot_close(partner):
    settlement, wallet = funded_pair(partner)
    post(partner, transfer_body(settlement, wallet, "10.00", pending=True))
    assert balances(partner, wallet)["posted"] == "0.00"
    assert_problem(
        partner.post(f"/v1/accounts/{wallet}/close", key=False), 409, "account_not_empty"
    )


def test_an_emptied_account_closes(partner, api_clock):
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "10.00")
    post(partner, transfer_body(wallet, settlement, "10.00"))
    api_clock.advance(timedelta(hours=2))
    response = partner.post(f"/v1/accounts/{wallet}/close", key=False)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "closed"
    assert body["closed_at"] == "2026-11-02T11:00:00+00:00"
    assert body["balances"] == {k: money(v) for k, v in ZERO.items()}
    assert partner.get(f"/v1/accounts/{wallet}").get_json() == body


@pytest.mark.parametrize("side", ["credit", "debit"])
def test_a_closed_account_refuses_postings(partner, side):
    settlement, wallet = funded_pair(partner)
    assert partner.post(f"/v1/accounts/{wallet}/close", key=False).status_code == 200
    body = (
        transfer_body(settlement, wallet, "1.00")
        if side == "credit"
        else transfer_body(wallet, settlement, "1.00")
    )
    problem = assert_problem(partner.post("/v1/transactions", body), 409, "account_closed")
    assert problem["account_id"] == wallet
    assert partner.get("/v1/transactions").get_json()["data"] == []


def test_a_closed_account_refuses_holds(partner):
    settlement, wallet = funded_pair(partner)
    partner.post(f"/v1/accounts/{wallet}/close", key=False)
    response = partner.post(
        "/v1/transactions", transfer_body(settlement, wallet, "1.00", pending=True)
    )
    assert_problem(response, 409, "account_closed")


def test_closing_twice_is_409_account_closed(partner):
    _, wallet = funded_pair(partner)
    partner.post(f"/v1/accounts/{wallet}/close", key=False)
    assert_problem(partner.post(f"/v1/accounts/{wallet}/close", key=False), 409, "account_closed")


def test_a_closed_account_keeps_its_statement(partner):
    settlement, wallet = funded_pair(partner)
    fund(partner, settlement, wallet, "10.00")
    post(partner, transfer_body(wallet, settlement, "10.00"))
    partner.post(f"/v1/accounts/{wallet}/close", key=False)
    body = partner.get(f"/v1/accounts/{wallet}/statement").get_json()
    assert lines(body) == [("credit", "10.00", "10.00"), ("debit", "10.00", "0.00")]


# ------------------------------------------------------------------------- list


@pytest.fixture
def book(partner) -> dict:
    """Five accounts: two for a customer (RUB), a USD one, a closed RUB one, a TJS one."""
    customer = partner.post(
        "/v1/customers",
        {"external_id": "c-1", "full_name": "A", "country": "TJ", "kind": "migrant"},
        key=False,
    ).get_json()["id"]
    made = {
        "rub_customer": open_account(partner, customer_id=customer)["id"],
        "usd": open_account(partner, currency="USD")["id"],
        "closed": open_account(partner)["id"],
        "rub_customer_2": open_account(partner, customer_id=customer, type="asset")["id"],
        "tjs": open_account(partner, currency="TJS")["id"],
    }
    assert partner.post(f"/v1/accounts/{made['closed']}/close", key=False).status_code == 200
    return {**made, "customer": customer}


def account_ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [a["id"] for a in response.get_json()["data"]]


def test_accounts_are_listed_newest_first(partner, book):
    expected = [book[k] for k in ("tjs", "rub_customer_2", "closed", "usd", "rub_customer")]
    assert account_ids(partner.get("/v1/accounts")) == expected


def test_accounts_filter(partner, book):
    expected = {
        "customer_id={customer}": ["rub_customer_2", "rub_customer"],
        "currency=USD": ["usd"],
        "currency=RUB": ["rub_customer_2", "closed", "rub_customer"],
        "currency=EUR": [],
        "status=closed": ["closed"],
        "status=open": ["tjs", "rub_customer_2", "usd", "rub_customer"],
        "status=open&currency=RUB": ["rub_customer_2", "rub_customer"],
    }
    listed = {
        query: account_ids(partner.get("/v1/accounts?" + query.format(customer=book["customer"])))
        for query in expected
    }
    assert listed == {q: [book[name] for name in names] for q, names in expected.items()}


def test_filtering_accounts_by_an_unknown_or_foreign_customer_is_not_found(
    partner, other_partner, book
):
    missing = partner.get(f"/v1/accounts?customer_id={uuid.UUID(int=5)}")
    foreign = other_partner.get(f"/v1/accounts?customer_id={book['customer']}")
    assert problem_code(missing) == (404, "customer_not_found")
    assert problem_code(foreign) == (404, "customer_not_found")


def test_an_unknown_query_parameter_is_refused_not_ignored(partner, book):
    # A misspelt filter must not silently return the unfiltered list.
    response = partner.get("/v1/accounts?stauts=closed")
    assert problem_code(response) == (422, "validation_error")
    assert "stauts" in str(response.get_json()["errors"])


def test_a_bad_account_filter_is_a_validation_error(partner):
    queries = ["status=frozen", "currency=usd", "customer_id=nope", "limit=0", "limit=1001"]
    answers = {q: problem_code(partner.get(f"/v1/accounts?{q}")) for q in queries}
    assert answers == {q: (422, "validation_error") for q in queries}


def test_accounts_page_one_at_a_time(partner, book):
    seen, url = [], "/v1/accounts?limit=1"
    for _ in range(6):
        body = partner.get(url).get_json()
        assert len(body["data"]) == 1
        seen.append(body["data"][0]["id"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        assert body["next_cursor"] == str(body["data"][0]["id"])
        url = f"/v1/accounts?limit=1&starting_after={body['next_cursor']}"
    assert seen == account_ids(partner.get("/v1/accounts"))
    assert len(seen) == 5


def test_a_filtered_list_pages_within_the_filter(partner, book):
    first = partner.get("/v1/accounts?currency=RUB&limit=2").get_json()
    rest = partner.get(f"/v1/accounts?currency=RUB&limit=2&starting_after={first['next_cursor']}")
    assert [a["id"] for a in first["data"]] + account_ids(rest) == [
        book["rub_customer_2"],
        book["closed"],
        book["rub_customer"],
    ]


def test_an_invalid_account_cursor_is_422_invalid_cursor(partner, book):
    cursors = ["abc", "-1", "%C2%B2", "%D9%A1", "9223372036854775808", "99999999999999999999"]
    answers = {c: problem_code(partner.get(f"/v1/accounts?starting_after={c}")) for c in cursors}
    assert answers == {c: (422, "invalid_cursor") for c in cursors}


def test_no_accounts_is_an_empty_page(partner):
    assert partner.get("/v1/accounts").get_json() == {
        "data": [],
        "has_more": False,
        "next_cursor": None,
    }
