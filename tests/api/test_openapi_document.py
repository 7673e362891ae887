"""/v1/openapi.json: valid OpenAPI 3.0, complete about errors and idempotency, and
identical to the committed openapi.json (scripts/export_openapi.py writes it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from api.app import openapi_document

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
PROBLEM = "application/problem+json"

#: POSTs that move money: Idempotency-Key is required, not optional.
MONEY_MOVING = {
    "/v1/transactions",
    "/v1/transactions/batch",
    "/v1/transactions/{transaction_id}/post",
    "/v1/transactions/{transaction_id}/void",
    "/v1/transactions/{transaction_id}/reverse",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_it_is_valid_openapi_3_0(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.0.3"
    # Validates against the OpenAPI 3.0 JSON Schema (the one of OAI, shipped with
    # schemathesis); raises with the first violation.
    schemathesis.openapi.from_dict(document).validate()
    for ref in refs(document):  # the meta-schema does not check that $refs resolve
        resolve(document, ref)


def test_every_operation_needs_a_key_and_documents_its_problems(
    document: dict[str, Any],
) -> None:
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    found = operations(document)
    assert len(found) >= 20
    for path, method, operation in found:
        responses = operation["responses"]
        assert "default" not in responses, (method, path)
        for status in ("401", "403", "404", "422", "429"):
            response = resolve(document, responses[status]["$ref"])
            assert list(response["content"]) == [PROBLEM], (method, path, status)
        successes = [status for status in responses if status.startswith("2")]
        assert len(successes) == 1, (method, path)
        for status, response in responses.items():
            if not status.startswith("2"):
                assert "$ref" in response, (method, path, status)


def test_idempotency_keys_are_documented(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        headers = {
            parameter["name"]: parameter
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "header"
        }
        key = headers.get("Idempotency-Key")
        if method == "post" and path in MONEY_MOVING:
            assert key is not None and key["required"] is True, (method, path)
        if method == "get" or path.endswith("/keys"):  # a key's secret is never replayed
            assert key is None, (method, path)
        assert all(name.startswith("x-") is False for name in operation), (method, path)


def test_the_committed_openapi_json_is_current(document: dict[str, Any]) -> None:
    path = ROOT / "scripts" / "export_openapi.py"
    spec = importlib.util.spec_from_file_location("export_openapi", path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = (ROOT / "openapi.json").read_text(encoding="utf-8")
    assert committed == script.render(document), (
        "openapi.json is stale: run .venv/bin/python scripts/export_openapi.py and commit it"
    )
