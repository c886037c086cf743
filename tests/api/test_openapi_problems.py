"""OpenAPI document (docs, examples, problem schemas) and the RFC 9457 shape of every kind of error."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from gateway.errors import ConfigurationError, ForeignBlockError, SyncError
from ledger_node.errors import NodeUnavailableError
from tests.api.conftest import Api

PROBLEM = "application/problem+json"
OWN_OPERATIONS = [
    ("post", "/v1/reports"),
    ("post", "/v1/reports/{imei}/recovery"),
    ("get", "/v1/batches"),
    ("get", "/v1/devices/{imei}"),
    ("post", "/v1/devices/check"),
    ("get", "/n5g-eir-eic/v1/equipment-status"),
]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def has_example(spec: dict[str, Any], media: dict[str, Any]) -> bool:
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = resolve(spec, media.get("schema", {}))
    if schema.get("examples"):
        return True
    return any(has_example(spec, {"schema": s}) for s in schema.get("anyOf", []) + schema.get("oneOf", []))


def test_docs_and_openapi_are_served(api: Api):
    docs = api.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = api.client.get("/openapi.json").json()
    assert spec["info"]["title"] == "CrossBlock gateway BR"
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


@pytest.mark.parametrize(("method", "path"), OWN_OPERATIONS)
def test_every_operation_has_examples_and_documents_its_problems(api: Api, method: str, path: str):
    spec = api.client.get("/openapi.json").json()
    operation = spec["paths"][path][method]
    assert operation["summary"]
    assert operation["description"]
    assert operation["security"] == [{"HTTPBearer": []}]
    for media in operation.get("requestBody", {}).get("content", {}).values():
        assert has_example(spec, media), f"{method} {path}: request body without example"
    ok = operation["responses"]["200"]["content"]["application/json"]
    assert has_example(spec, ok), f"{method} {path}: 200 without example"
    errors = {s: r for s, r in operation["responses"].items() if s.startswith(("4", "5"))}
    assert {"401", "403"} <= set(errors)
    for status, response in errors.items():
        assert list(response["content"]) == [PROBLEM], (path, status)
        media = response["content"][PROBLEM]
        assert media["example"]["status"] == int(status)
        assert resolve(spec, media["schema"])["properties"]["type"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_unknown_route_and_wrong_method_are_problems(api: Api):
    r = api.client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert r.json() == {
        "type": "urn:crossblock:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "instance": "/v1/nothing-here",
    }
    r = api.client.delete("/v1/batches", headers=api.auth("admin"))
    assert r.status_code == 405
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:crossblock:problem:method-not-allowed"
    assert "allow" in r.headers


def _raise(exc: Exception):
    def endpoint() -> None:
        raise exc

    return endpoint


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (ConfigurationError("no signer_keystore configured"), 503, "not-configured"),
        (NodeUnavailableError("cannot reach http://127.0.0.1:1"), 503, "node-unavailable"),
        (SyncError("reorg deeper than kept history"), 503, "sync-unavailable"),
        (ForeignBlockError("49015420323751", "BR", ["IN"]), 409, "foreign-block"),
        (RuntimeError("secret internals"), 500, "internal-error"),
    ],
)
def test_domain_and_unexpected_errors_become_problems(api: Api, exc: Exception, status: int, slug: str):
    app: FastAPI = api.app
    app.add_api_route("/test/raise", _raise(exc))
    r = api.client.get("/test/raise")
    assert r.status_code == status
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == f"urn:crossblock:problem:{slug}"
    assert body["status"] == status
    assert body["instance"] == "/test/raise"
    assert body["title"]
    if status == 500:
        assert "secret" not in body["detail"]  # internals are logged, not sent
    else:
        assert body["detail"] == str(exc)
