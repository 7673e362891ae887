import pytest

from api.app import create_app
from ledger.db import create_database


@pytest.fixture
def client(database):
    return create_app(database=database).test_client()


def test_healthz_says_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_migrations(client, database):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"
    assert response.get_json()["database"] == database.dialect


def test_readyz_is_a_problem_when_migrations_are_missing(tmp_path):
    empty = create_database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    response = create_app(database=empty).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "migrations_pending"
    assert {"type", "title", "status", "detail"} <= set(body)
    empty.dispose()
