"""Customers of a partner: register, read, list."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.api.conftest import API_START, assert_problem, list_all, problem_code

BODY = {"external_id": "c-1", "full_name": "Farrukh Rahimov", "country": "TJ", "kind": "migrant"}


def register(partner, **fields):
    return partner.post("/v1/customers", {**BODY, **fields}, key=False)


def test_a_partner_registers_a_customer(partner):
    response = register(partner)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {k: body[k] for k in BODY} == BODY
    assert uuid.UUID(body["id"])
    assert body["created_at"] == API_START.isoformat()
    assert set(body) == {*BODY, "id", "created_at"}


def test_a_registered_customer_reads_back_the_same(partner):
    created = register(partner).get_json()
    response = partner.get(f"/v1/customers/{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == created


def test_every_customer_kind_is_accepted(partner):
    kinds = ["migrant", "entrepreneur", "diaspora_investor", "sponsor"]
    made = [register(partner, external_id=kind, kind=kind).get_json()["kind"] for kind in kinds]
    assert made == kinds


def refused_fields(partner, cases: list[tuple[dict, str]]) -> dict[str, object]:
    """For each (fields, field) case: the problem's code and whether it names the field."""
    answers = {}
    for fields, field in cases:
        response = register(partner, **fields)
        status, code = problem_code(response)
        body = response.get_json()
        named = field in body.get("errors", {}) or body.get("field") == field
        answers[repr(fields)[:40]] = (status, code, named)
    return answers


def test_a_field_the_schema_refuses_is_named_in_errors(partner):
    cases = [
        ({"nickname": "F"}, "nickname"),
        ({"country": "tj"}, "country"),
        ({"country": "TJK"}, "country"),
        ({"country": 7}, "country"),
        ({"kind": "tourist"}, "kind"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 101}, "external_id"),
        ({"full_name": ""}, "full_name"),
        ({"full_name": "x" * 201}, "full_name"),
        ({"full_name": None}, "full_name"),
    ]
    answers = refused_fields(partner, cases)
    assert answers == {key: (422, "validation_error", True) for key in answers}
    assert len(answers) == len(cases)
    assert partner.get("/v1/customers").get_json()["data"] == []


def test_each_required_field_is_required(partner):
    for missing in BODY:
        body = {k: v for k, v in BODY.items() if k != missing}
        problem = assert_problem(
            partner.post("/v1/customers", body, key=False), 422, "validation_error"
        )
        assert list(problem["errors"]) == [missing]


def test_a_value_the_ledger_refuses_is_a_validation_error(partner):
    cases = [
        ({"country": "XK"}, "country"),  # well-formed, but not an assigned ISO 3166-1 code
        ({"country": "EU"}, "country"),
        ({"full_name": "   "}, "full_name"),
        ({"full_name": "Nul\x00Byte"}, "full_name"),
        ({"external_id": "id\x00"}, "external_id"),
    ]
    answers = refused_fields(partner, cases)
    assert answers == {key: (422, "validation_error", True) for key in answers}
    assert len(answers) == len(cases)


def test_a_body_that_is_not_an_object_is_refused(partner):
    response = partner.post("/v1/customers", ["not", "an", "object"], key=False)
    assert_problem(response, 422, "validation_error")


def test_malformed_json_is_refused(partner):
    response = partner.client.post(
        "/v1/customers",
        data="{not json",
        content_type="application/json",
        headers=partner.headers(),
    )
    assert_problem(response, 422, "validation_error")


def test_a_taken_external_id_is_409_customer_exists(partner):
    first = register(partner).get_json()
    problem = assert_problem(register(partner, full_name="Someone Else"), 409, "customer_exists")
    assert problem["customer_id"] == first["id"]
    assert len(list_all(partner, "/v1/customers")) == 1


def test_an_unknown_or_malformed_customer_id_is_404(partner):
    idents = [str(uuid.UUID(int=42)), "not-a-uuid", "1", "%00", "%C2%B2"]
    answers = {i: problem_code(partner.get(f"/v1/customers/{i}")) for i in idents}
    assert answers == {i: (404, "customer_not_found") for i in idents}


# ------------------------------------------------------------------------ lists


@pytest.fixture
def five(partner, api_clock) -> list[dict]:
    """Five customers, a day apart, oldest first."""
    rows = [
        ("c-1", "TJ", "migrant"),
        ("c-2", "UZ", "migrant"),
        ("c-3", "TJ", "entrepreneur"),
        ("c-4", "KG", "sponsor"),
        ("c-5", "TJ", "diaspora_investor"),
    ]
    made = []
    for external_id, country, kind in rows:
        made.append(
            register(partner, external_id=external_id, country=country, kind=kind).get_json()
        )
        api_clock.advance(timedelta(days=1))
    return made


def external_ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [c["external_id"] for c in response.get_json()["data"]]


def test_customers_are_listed_newest_first(partner, five):
    assert external_ids(partner.get("/v1/customers")) == ["c-5", "c-4", "c-3", "c-2", "c-1"]


def test_customers_filter(partner, five):
    expected = {
        "country=TJ": ["c-5", "c-3", "c-1"],
        "kind=migrant": ["c-2", "c-1"],
        "kind=migrant&country=TJ": ["c-1"],
        "external_id=c-4": ["c-4"],
        "external_id=nobody": [],
        "created_from=2026-11-04T09:00:00Z": ["c-5", "c-4", "c-3"],
        "created_to=2026-11-04T09:00:00Z": ["c-2", "c-1"],
        "created_from=2026-11-03T09:00:00Z&created_to=2026-11-05T09:00:00Z": ["c-3", "c-2"],
    }
    listed = {query: external_ids(partner.get(f"/v1/customers?{query}")) for query in expected}
    assert listed == expected


def test_a_bad_filter_is_a_validation_error(partner):
    queries = [
        "kind=tourist",
        "country=tj",
        "created_from=2026-11-04T09:00:00",  # no zone
        "created_from=9999-12-31T23:59:59-14:00",  # beyond what UTC can hold
        "external_id=a%00b",
    ]
    answers = {q: problem_code(partner.get(f"/v1/customers?{q}")) for q in queries}
    assert answers == {q: (422, "validation_error") for q in queries}


def test_customers_page_one_at_a_time(partner, five):
    seen, url = [], "/v1/customers?limit=1"
    for _ in range(len(five) + 1):
        body = partner.get(url).get_json()
        assert len(body["data"]) == 1
        seen.append(body["data"][0]["external_id"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        assert body["next_cursor"] == body["data"][0]["id"]
        url = f"/v1/customers?limit=1&starting_after={body['next_cursor']}"
    assert seen == ["c-5", "c-4", "c-3", "c-2", "c-1"]


def test_a_page_exactly_as_long_as_the_list_has_no_more(partner, five):
    body = partner.get("/v1/customers?limit=5").get_json()
    assert len(body["data"]) == 5
    assert body["has_more"] is False
    assert body["next_cursor"] is None


def test_filters_hold_across_pages(partner, five):
    first = partner.get("/v1/customers?country=TJ&limit=2").get_json()
    assert [c["external_id"] for c in first["data"]] == ["c-5", "c-3"]
    rest = partner.get(f"/v1/customers?country=TJ&limit=2&starting_after={first['next_cursor']}")
    assert external_ids(rest) == ["c-1"]
    assert rest.get_json()["has_more"] is False


def test_a_page_size_out_of_range_is_rejected(partner):
    limits = ["0", "1001", "-5", "ten"]
    answers = {n: problem_code(partner.get(f"/v1/customers?limit={n}")) for n in limits}
    assert answers == {n: (422, "validation_error") for n in limits}


def test_an_invalid_cursor_is_422_invalid_cursor(partner):
    cursors = ["abc", "12345", "%C2%B2"]
    answers = {c: problem_code(partner.get(f"/v1/customers?starting_after={c}")) for c in cursors}
    assert answers == {c: (422, "invalid_cursor") for c in cursors}


def test_no_customers_is_an_empty_page(partner):
    body = partner.get("/v1/customers").get_json()
    assert body == {"data": [], "has_more": False, "next_cursor": None}
