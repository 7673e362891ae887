"""Authentication, rate limits, request size and request ids."""

from __future__ import annotations

import re
import uuid

import pytest

from api.app import create_app
from ledger.config import Settings
from tests.api.conftest import assert_problem, problem_code

FAKE_SECRET = "A" * 43


def revoked_key(admin, partner) -> str:
    issued = admin.post(f"/v1/principals/{partner.id}/keys", {"label": "old"}, key=False)
    admin.post(f"/v1/api-keys/{issued.get_json()['id']}/revoke", key=False)
    return issued.get_json()["key"]


def authorization(case: str, admin, partner) -> dict[str, str]:
    key_id = partner.key.split("_")[1]
    headers = {
        "missing": {},
        "empty": {"Authorization": ""},
        "basic scheme": {"Authorization": f"Basic {partner.key}"},
        "token scheme": {"Authorization": f"Token {partner.key}"},
        "key without scheme": {"Authorization": partner.key},
        "scheme without key": {"Authorization": "Bearer "},
        "malformed key": {"Authorization": "Bearer not-a-key"},
        "truncated secret": {"Authorization": f"Bearer {partner.key[:-10]}"},
        "unknown key id": {"Authorization": f"Bearer lk_{uuid.uuid4().hex}_{FAKE_SECRET}"},
        "right id, wrong secret": {"Authorization": f"Bearer lk_{key_id}_{FAKE_SECRET}"},
        "revoked key": None,
    }[case]
    if headers is None:
        headers = {"Authorization": f"Bearer {revoked_key(admin, partner)}"}
    return headers


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "basic scheme",
        "malformed key",
        "unknown key id",
        "right id, wrong secret",
        "revoked key",
    ],
)
def test_a_request_without_a_valid_key_is_401_unauthenticated(client, admin, partner, case):
    response = client.get("/v1/me", headers=authorization(case, admin, partner))
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="ledger"'


def test_other_malformed_authorization_headers_are_401_too(client, admin, partner):
    cases = [
        "empty",
        "token scheme",
        "key without scheme",
        "scheme without key",
        "truncated secret",
    ]
    answers = {}
    for case in cases:
        response = client.get("/v1/me", headers=authorization(case, admin, partner))
        answers[case] = (*problem_code(response), response.headers.get("WWW-Authenticate"))
    expected = (401, "unauthenticated", 'Bearer realm="ledger"')
    assert answers == {case: expected for case in cases}


@pytest.mark.parametrize("case", ["missing", "unknown key id", "revoked key"])
def test_a_write_without_a_valid_key_is_401_before_anything_else(client, admin, partner, case):
    """Authentication comes before the role, the Idempotency-Key and the body."""
    response = client.post(
        "/v1/transactions", json={"bad": 1}, headers=authorization(case, admin, partner)
    )
    assert_problem(response, 401, "unauthenticated")


def test_every_key_failure_says_the_same_thing(client, admin, partner):
    """Malformed, unknown, wrong secret and revoked are indistinguishable."""
    cases = ["malformed key", "unknown key id", "right id, wrong secret", "revoked key"]
    details = {
        client.get("/v1/me", headers=authorization(case, admin, partner)).get_json()["detail"]
        for case in cases
    }
    assert len(details) == 1


def test_the_bearer_scheme_is_case_insensitive(client, partner):
    response = client.get("/v1/me", headers={"Authorization": f"bearer {partner.key}"})
    assert response.status_code == 200
    assert response.get_json()["id"] == partner.id


@pytest.mark.parametrize("caller", ["admin", "partner", "fund_manager"])
def test_me_names_the_keys_principal(callers, caller):
    response = callers[caller].get("/v1/me")
    assert response.status_code == 200
    assert response.get_json()["id"] == callers[caller].id
    assert response.get_json()["role"] == callers[caller].role


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/v1/openapi.json"])
def test_public_endpoints_need_no_key(client, path):
    assert client.get(path).status_code == 200


def test_an_unknown_route_is_404_not_401(client):
    assert_problem(client.get("/v1/nothing-here"), 404, "not_found")


def test_a_wrong_method_is_405_with_allow(partner):
    response = partner.client.delete("/v1/customers", headers=partner.headers())
    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


# ----------------------------------------------------------------- rate limits


@pytest.fixture
def limited(database, api_clock):
    """The app with 1 request per second per key and bursts of 2."""
    settings = Settings(rate_limit_per_second=1, rate_limit_burst=2, log_requests=False)
    return create_app(settings, database=database, clock=api_clock).test_client()


def test_the_third_quick_request_is_429_rate_limited(limited, partner):
    statuses = [limited.get("/v1/me", headers=partner.headers()).status_code for _ in range(2)]
    assert statuses == [200, 200]
    response = limited.get("/v1/me", headers=partner.headers())
    assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-Request-Id"]


def test_rate_limits_are_per_key(limited, partner, other_partner):
    for _ in range(3):
        limited.get("/v1/me", headers=partner.headers())
    assert limited.get("/v1/me", headers=partner.headers()).status_code == 429
    assert limited.get("/v1/me", headers=other_partner.headers()).status_code == 200


def test_a_rate_limited_write_writes_nothing(limited, partner):
    body = {"external_id": "c-1", "full_name": "A", "country": "TJ", "kind": "migrant"}
    responses = [
        limited.post(
            "/v1/customers", json={**body, "external_id": f"c-{i}"}, headers=partner.headers()
        )
        for i in range(3)
    ]
    assert [r.status_code for r in responses] == [201, 201, 429]
    assert len(partner.get("/v1/customers").get_json()["data"]) == 2


# ---------------------------------------------------------------- request size


@pytest.fixture
def small(database, api_clock):
    """The app with request bodies of at most 1,024 bytes."""
    settings = Settings(
        max_request_bytes=1024,
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
        log_requests=False,
    )
    return create_app(settings, database=database, clock=api_clock).test_client()


def customer(full_name: str) -> dict[str, str]:
    return {"external_id": "c-1", "full_name": full_name, "country": "TJ", "kind": "migrant"}


@pytest.mark.parametrize("idempotency_key", [None, "big-1"])
def test_a_body_over_the_limit_is_413_request_too_large(small, partner, idempotency_key):
    response = small.post(
        "/v1/customers", json=customer("x" * 1100), headers=partner.headers(idempotency_key)
    )
    assert_problem(response, 413, "request_too_large")
    assert partner.get("/v1/customers").get_json()["data"] == []


def test_a_body_under_the_limit_is_accepted(small, partner):
    response = small.post("/v1/customers", json=customer("x" * 100), headers=partner.headers())
    assert response.status_code == 201


def test_a_money_moving_body_over_the_limit_is_413(small, partner):
    body = {"postings": [], "description": "x" * 2000}
    response = small.post("/v1/transactions", json=body, headers=partner.headers("big-2"))
    assert_problem(response, 413, "request_too_large")


# ------------------------------------------------------------------ request ids


def test_every_response_has_a_request_id(partner, client):
    calls = [
        ("GET", "/v1/me", partner.headers(), 200),
        ("GET", "/healthz", {}, 200),
        ("GET", "/v1/me", {}, 401),
        ("GET", "/v1/customers/nope", partner.headers(), 404),
        ("GET", "/v1/nothing-here", partner.headers(), 404),
        ("DELETE", "/v1/customers", partner.headers(), 405),
        ("POST", "/v1/customers", partner.headers(), 422),
        ("POST", "/v1/transactions", partner.headers(), 400),
        ("GET", "/v1/principals", partner.headers(), 403),
    ]
    for method, path, headers, status in calls:
        response = client.open(path, method=method, json={}, headers=headers)
        assert response.status_code == status, (method, path)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"]), (method, path)


def test_request_ids_differ_between_requests(partner):
    ids = {partner.get("/v1/me").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def request_id_for(partner, incoming: str) -> str:
    response = partner.client.get("/v1/me", headers=partner.headers(**{"X-Request-Id": incoming}))
    return response.headers["X-Request-Id"]


def test_a_safe_incoming_request_id_is_echoed(partner):
    safe = ["abc-123", "Trace.ID_42", "x" * 128]
    assert {i: request_id_for(partner, i) for i in safe} == {i: i for i in safe}


def test_an_unsafe_incoming_request_id_is_replaced(partner):
    for incoming in ["has space", "semi;colon", "x" * 129, "tab\there", "<script>", ""]:
        assert re.fullmatch(r"[0-9a-f]{32}", request_id_for(partner, incoming)), incoming
