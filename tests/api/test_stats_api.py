"""GET /v1/stats: records per country and kind, recoveries, statuses, checks and blocked-attach
attempts split domestic vs cross-border, as seen by BR's gateway (honours BR, DE, IN; not KE)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_node.record import Kind
from tests.api.conftest import Api, imei


@pytest.fixture
def world(api: Api) -> Api:
    api.ledger.publish("IN", [(imei(1), Kind.STOLEN), (imei(2), Kind.STOLEN)])
    api.ledger.publish("BR", [(imei(3), Kind.LOST)])
    api.ledger.publish("IN", [(imei(2), Kind.RECOVERED)])
    api.ledger.publish("DE", [(imei(4), Kind.DUPLICATED)])
    api.ledger.publish("KE", [(imei(5), Kind.STOLEN)])
    return api


def test_stats_count_records_statuses_and_blocked_attaches(world: Api):
    api, op = world, world.auth("operator")
    for device in (imei(1), imei(3), imei(3), imei(4), imei(5), imei(2)):
        assert api.client.get(f"/v1/devices/{device}", headers=op).status_code == 200
    eir = api.client.get("/n5g-eir-eic/v1/equipment-status", params={"pei": f"imei-{imei(1)}"}, headers=op)
    assert eir.json() == {"status": "BLACKLISTED"}
    batch = api.client.post("/v1/devices/check", json={"imeis": [imei(1), imei(3)]}, headers=op)
    assert batch.status_code == 200
    reported = api.client.post(
        "/v1/reports", json={"imei": imei(6), "kind": "STOLEN"}, headers=api.auth("regulator")
    )
    assert reported.status_code == 200, reported.text

    r = api.client.get("/v1/stats", headers=api.auth("regulator"))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["country"] == "BR"
    assert s["records"] == {
        "BR": {"LOST": 1},
        "DE": {"DUPLICATED": 1},
        "IN": {"STOLEN": 2, "RECOVERED": 1},
        "KE": {"STOLEN": 1},
    }
    assert s["recoveries"] == {"BR": 0, "DE": 0, "IN": 1, "KE": 0}
    # imei(2) went back to WHITELISTED; KE's record is not honoured here (no status row).
    assert s["statuses"] == {"WHITELISTED": 1, "GREYLISTED": 1, "BLACKLISTED": 2}
    assert s["statuses_by_origin"] == {
        "BR": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 1},
        "DE": {"WHITELISTED": 0, "GREYLISTED": 1, "BLACKLISTED": 0},
        "IN": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 1},
    }
    checks = s["checks"]
    assert checks["total"] == 9
    assert checks["by_status"] == {"WHITELISTED": 2, "GREYLISTED": 1, "BLACKLISTED": 6}
    assert checks["domestic"] == {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 3}
    assert checks["cross_border"] == {"WHITELISTED": 0, "GREYLISTED": 1, "BLACKLISTED": 3}
    assert s["blocked_attempts"] == {
        "total": 7,
        "domestic": 3,
        "cross_border": 4,
        "by_origin": {"BR": 3, "DE": 1, "IN": 3},
    }
    assert s["outbox_depth"] == 1
    assert s["register"] == {"STOLEN": 1}


def test_stats_of_an_empty_gateway(api: Api):
    s = api.client.get("/v1/stats", headers=api.auth("auditor")).json()
    assert s["records"] == {}
    assert s["checks"]["total"] == 0
    assert s["blocked_attempts"] == {"total": 0, "domestic": 0, "cross_border": 0, "by_origin": {}}


def test_stats_roles(api: Api):
    missing = api.client.get("/v1/stats")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    refused = api.client.get("/v1/stats", headers=api.auth("operator"))
    assert refused.status_code == 403
    assert "regulator, auditor, admin" in refused.json()["detail"]
    for role in ("regulator", "auditor", "admin"):
        assert api.client.get("/v1/stats", headers=api.auth(role)).status_code == 200, role


# The OpenAPI document of the blocklist, auditor, statistics and operations endpoints.
AUTHENTICATED = [
    ("get", "/v1/blocklist"),
    ("get", "/v1/blocklist/changes"),
    ("get", "/v1/devices/{imei}/history"),
    ("get", "/v1/countries/{cc}/batches"),
    ("post", "/v1/audit/verify"),
    ("get", "/v1/audit/jobs/{job_id}"),
    ("get", "/v1/stats"),
]
UNAUTHENTICATED = [("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics")]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _example(spec: dict[str, Any], media: dict[str, Any]) -> Any:
    return (
        media.get("example")
        or media.get("examples")
        or _resolve(spec, media.get("schema", {})).get("examples")
    )


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED + UNAUTHENTICATED)
def test_openapi_documents_roles_examples_and_problems(api: Api, method: str, path: str):
    spec = api.client.get("/openapi.json").json()
    operation = spec["paths"][path][method]
    assert operation["summary"]
    assert operation["description"]
    if (method, path) in AUTHENTICATED:
        assert operation["security"] == [{"HTTPBearer": []}]
        assert "Role" in operation["description"]
        assert {"401", "403"} <= set(operation["responses"])
    else:
        assert "security" not in operation
        assert "No API key" in operation["description"]
    for media in operation.get("requestBody", {}).get("content", {}).values():
        assert _example(spec, media), "request body without example"
    for status, response in operation["responses"].items():
        assert response["content"], status
        for media_type, media in response["content"].items():
            assert _example(spec, media), f"{status} {media_type} without example"
            if status.startswith(("4", "5")):
                assert media_type == "application/problem+json", status
                assert media["example"]["status"] == int(status)
