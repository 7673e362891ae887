"""Admin API: principals of every role, their API keys, revocation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.api.conftest import API_START, assert_problem, list_all, problem_code

START = API_START.isoformat()


def create_principal(admin, slug: str, role: str = "partner", name: str | None = None):
    body = {"slug": slug, "name": name or slug.title(), "role": role}
    return admin.post("/v1/principals", body, key=False)


def issue(admin, principal_id: str, label: str = "ci") -> dict:
    response = admin.post(f"/v1/principals/{principal_id}/keys", {"label": label}, key=False)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def me(client, key: str):
    return client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})


# ------------------------------------------------------------------- principals


@pytest.mark.parametrize("role", ["admin", "partner", "fund_manager"])
def test_admin_creates_a_principal_of_each_role(admin, role):
    response = create_principal(admin, f"new-{role.replace('_', '-')}", role, name="New One")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["role"] == role
    assert body["name"] == "New One"
    assert body["slug"] == f"new-{role.replace('_', '-')}"
    assert body["created_at"] == START
    assert uuid.UUID(body["id"])
    assert admin.get(f"/v1/principals/{body['id']}").get_json() == body


BAD_SLUGS = ["Upper", "-leading-dash", "has space", "under_score", "dot.ted", "é", "a" * 65, ""]


def test_a_slug_must_be_lowercase_letters_digits_and_dashes(admin):
    answers = {slug: problem_code(create_principal(admin, slug)) for slug in BAD_SLUGS}
    assert answers == {slug: (422, "validation_error") for slug in BAD_SLUGS}
    assert len(list_all(admin, "/v1/principals")) == 4


def test_a_slug_of_64_characters_is_accepted(admin):
    assert create_principal(admin, "a" * 64).status_code == 201


def test_a_taken_slug_is_409_slug_taken(admin):
    body = assert_problem(create_principal(admin, "partner-a"), 409, "slug_taken")
    assert body["slug"] == "partner-a"


def test_an_unknown_role_is_rejected(admin):
    response = admin.post("/v1/principals", {"slug": "x", "name": "X", "role": "root"}, key=False)
    body = assert_problem(response, 422, "validation_error")
    assert "role" in body["errors"]


def test_an_unknown_field_is_rejected(admin):
    body = {"slug": "x", "name": "X", "role": "partner", "email": "x@example.org"}
    problem = assert_problem(admin.post("/v1/principals", body, key=False), 422, "validation_error")
    assert "email" in problem["errors"]


def test_a_blank_name_is_rejected(admin):
    assert_problem(create_principal(admin, "blank", name="   "), 422, "validation_error")


def test_principals_are_listed_newest_first(admin):
    for slug in ("p-one", "p-two", "p-three"):
        assert create_principal(admin, slug).status_code == 201
    slugs = [p["slug"] for p in list_all(admin, "/v1/principals")]
    assert slugs == ["p-three", "p-two", "p-one", "fund-manager", "partner-b", "partner-a", "root"]


def test_principals_filter_by_role(admin):
    create_principal(admin, "p-new", "partner")
    create_principal(admin, "fm-new", "fund_manager")
    listed = {
        role: [p["slug"] for p in admin.get(f"/v1/principals?role={role}").get_json()["data"]]
        for role in ("partner", "fund_manager", "admin")
    }
    assert listed == {
        "partner": ["p-new", "partner-b", "partner-a"],
        "fund_manager": ["fm-new", "fund-manager"],
        "admin": ["root"],
    }


def test_principals_filter_by_an_unknown_role_is_rejected(admin):
    assert_problem(admin.get("/v1/principals?role=root"), 422, "validation_error")


def test_principals_page_one_at_a_time_until_the_last(admin):
    seen, cursor = [], None
    for _ in range(10):
        url = "/v1/principals?limit=1" + (f"&starting_after={cursor}" if cursor else "")
        body = admin.get(url).get_json()
        assert len(body["data"]) == 1
        seen.append(body["data"][0]["slug"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        assert body["next_cursor"] == body["data"][0]["id"]
        cursor = body["next_cursor"]
    assert seen == ["fund-manager", "partner-b", "partner-a", "root"]


def test_principals_page_size_out_of_range_is_rejected(admin):
    limits = ["0", "1001", "-1", "x"]
    answers = {limit: problem_code(admin.get(f"/v1/principals?limit={limit}")) for limit in limits}
    assert answers == {limit: (422, "validation_error") for limit in limits}
    assert len(admin.get("/v1/principals?limit=1000").get_json()["data"]) == 4


def test_principals_with_an_invalid_cursor_are_422_invalid_cursor(admin):
    assert_problem(admin.get("/v1/principals?starting_after=nope"), 422, "invalid_cursor")


def test_principals_after_the_oldest_are_an_empty_page(admin):
    oldest = list_all(admin, "/v1/principals")[-1]
    body = admin.get(f"/v1/principals?starting_after={oldest['id']}").get_json()
    assert body == {"data": [], "has_more": False, "next_cursor": None}


# ------------------------------------------------------------------------- keys


def test_an_issued_key_is_shown_once_and_never_listed(admin, partner):
    issued = issue(admin, partner.id, label="ci")
    assert issued["key"].startswith(f"lk_{uuid.UUID(issued['id']).hex}_")
    assert issued["principal_id"] == partner.id
    assert issued["label"] == "ci"
    assert issued["revoked_at"] is None
    listed = admin.get(f"/v1/principals/{partner.id}/keys")
    assert listed.status_code == 200
    assert issued["key"] not in listed.get_data(as_text=True)
    secret = issued["key"].rsplit("_", 1)[1]
    assert secret not in listed.get_data(as_text=True)
    entry = next(k for k in listed.get_json()["data"] if k["id"] == issued["id"])
    assert entry == {k: v for k, v in issued.items() if k != "key"}


def test_keys_are_listed_newest_first(admin, partner):
    first, second = issue(admin, partner.id, "one"), issue(admin, partner.id, "two")
    ids = [k["id"] for k in admin.get(f"/v1/principals/{partner.id}/keys").get_json()["data"]]
    assert ids[:2] == [second["id"], first["id"]]
    assert len(ids) == 3  # and the fixture's key


def test_a_new_key_authenticates_as_its_principal(admin, client):
    created = create_principal(admin, "fresh", "fund_manager").get_json()
    issued = issue(admin, created["id"])
    response = me(client, issued["key"])
    assert response.status_code == 200
    assert response.get_json() == created


def test_issuing_a_key_is_never_replayed(admin, partner):
    responses = [
        admin.post(f"/v1/principals/{partner.id}/keys", {"label": "x"}, key="same-key")
        for _ in range(2)
    ]
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].get_json()["key"] != responses[1].get_json()["key"]
    assert "Idempotent-Replayed" not in responses[1].headers


def test_a_key_label_over_100_characters_is_rejected(admin, partner):
    response = admin.post(f"/v1/principals/{partner.id}/keys", {"label": "x" * 101}, key=False)
    assert_problem(response, 422, "validation_error")


def test_a_key_without_a_body_gets_an_empty_label(admin, partner):
    response = admin.post(f"/v1/principals/{partner.id}/keys", None, key=False)
    assert response.status_code == 201
    assert response.get_json()["label"] == ""


def test_a_revoked_key_is_unauthenticated(admin, client, partner, api_clock):
    issued = issue(admin, partner.id)
    assert me(client, issued["key"]).status_code == 200
    api_clock.advance(timedelta(minutes=5))
    revoked = admin.post(f"/v1/api-keys/{issued['id']}/revoke", key=False)
    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_at"] == (API_START + timedelta(minutes=5)).isoformat()
    response = me(client, issued["key"])
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoking_twice_is_fine_and_keeps_the_first_revocation_time(admin, partner, api_clock):
    issued = issue(admin, partner.id)
    first = admin.post(f"/v1/api-keys/{issued['id']}/revoke", key=False)
    api_clock.advance(timedelta(hours=1))
    second = admin.post(f"/v1/api-keys/{issued['id']}/revoke", key=False)
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.get_json()["revoked_at"] == START


def test_revoking_one_key_leaves_the_principals_other_keys_working(admin, client, partner):
    issued = issue(admin, partner.id)
    admin.post(f"/v1/api-keys/{issued['id']}/revoke", key=False)
    assert partner.get("/v1/me").status_code == 200
    listed = admin.get(f"/v1/principals/{partner.id}/keys").get_json()["data"]
    revoked = {k["id"]: k["revoked_at"] for k in listed}
    assert revoked[issued["id"]] == START
    assert [v for k, v in revoked.items() if k != issued["id"]] == [None]


# ---------------------------------------------------------------- unknown ids

UNKNOWN = str(uuid.UUID(int=12345))


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/v1/principals/{}", "principal_not_found"),
        ("GET", "/v1/principals/{}/keys", "principal_not_found"),
        ("POST", "/v1/principals/{}/keys", "principal_not_found"),
        ("POST", "/v1/api-keys/{}/revoke", "api_key_not_found"),
    ],
)
def test_unknown_and_malformed_ids_are_404(admin, method, path, code):
    idents = [UNKNOWN, "not-a-uuid", "12345", "%C2%B2"]
    answers = {}
    for ident in idents:
        url = path.format(ident)
        response = admin.get(url) if method == "GET" else admin.post(url, {}, key=False)
        answers[ident] = problem_code(response)
    assert answers == {ident: (404, code) for ident in idents}


def test_a_principal_id_is_not_a_key_id(admin, partner):
    response = admin.post(f"/v1/api-keys/{partner.id}/revoke", key=False)
    assert_problem(response, 404, "api_key_not_found")
    assert partner.get("/v1/me").status_code == 200
