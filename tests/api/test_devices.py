"""Operator endpoints in-process: GET /v1/devices/{imei} and POST /v1/devices/check."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import JSONResponse

from gateway.db.models import CheckEvent
from gateway.services.stats import stats
from ledger_node.identifiers import parse_imei
from ledger_node.record import Kind
from tests.api.conftest import Api, imei

PROBLEM = "application/problem+json"


def test_blacklisted_by_another_country_with_origin_and_reason(api: Api):
    stolen = imei(1)
    api.ledger.publish("IN", [(stolen, Kind.STOLEN)])
    r = api.client.get(f"/v1/devices/{stolen}", headers=api.auth("operator"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "imei": stolen,
        "status": "BLACKLISTED",
        "origins": ["IN"],
        "reasons": [{"country": "IN", "kind": "STOLEN", "status": "BLACKLISTED"}],
    }


def test_every_identifier_form_gives_the_same_answer(api: Api):
    lost = imei(2)
    api.ledger.publish("DE", [(lost, Kind.LOST)])
    core = parse_imei(lost)
    for form in (core, lost, core + "07", f"imei-{lost}", f"IMEISV-{core}07"):
        body = api.client.get(f"/v1/devices/{form}", headers=api.auth("operator")).json()
        assert (body["imei"], body["status"], body["origins"]) == (lost, "BLACKLISTED", ["DE"])


def test_greylisted_whitelisted_and_cleared(api: Api):
    dup, clean, recovered = imei(3), imei(4), imei(5)
    api.ledger.publish("IN", [(dup, Kind.DUPLICATED), (recovered, Kind.STOLEN)])
    api.ledger.publish("IN", [(recovered, Kind.RECOVERED)])
    h = api.auth("operator")
    assert api.client.get(f"/v1/devices/{dup}", headers=h).json()["status"] == "GREYLISTED"
    assert api.client.get(f"/v1/devices/{dup}", headers=h).json()["reasons"] == [
        {"country": "IN", "kind": "DUPLICATED", "status": "GREYLISTED"}
    ]
    for device in (clean, recovered):
        assert api.client.get(f"/v1/devices/{device}", headers=h).json() == {
            "imei": device,
            "status": "WHITELISTED",
            "origins": [],
            "reasons": [],
        }


def test_country_not_honoured_is_ignored_and_explained(api: Api):
    device = imei(6)
    api.ledger.publish("KE", [(device, Kind.STOLEN)])
    api.ledger.publish("IN", [(device, Kind.LOST)])
    api.ledger.publish("DE", [(device, Kind.DUPLICATED)])
    r = api.client.get(f"/v1/devices/{device}?explain=true", headers=api.auth("operator"))
    body = r.json()
    assert body["status"] == "BLACKLISTED"
    assert body["origins"] == ["IN"]
    assert body["reasons"] == [{"country": "IN", "kind": "LOST", "status": "BLACKLISTED"}]
    entries = {e["country"]: e for e in body["entries"]}
    assert set(entries) == {"DE", "IN", "KE"}
    assert entries["KE"]["contributes"] == "WHITELISTED"
    assert "not honoured" in entries["KE"]["note"]
    assert entries["DE"]["contributes"] == "GREYLISTED"
    assert "outranked" in entries["DE"]["note"]
    assert entries["IN"]["seq"] == 1
    assert entries["IN"]["index"] == 0
    assert entries["IN"]["tx_hash"].startswith("0x")
    assert len(entries["IN"]["tx_hash"]) == 66


def test_two_blocking_countries_are_both_origins(api: Api):
    device = imei(7)
    api.ledger.publish("IN", [(device, Kind.STOLEN)])
    api.ledger.publish("BR", [(device, Kind.INVALID)])
    body = api.client.get(f"/v1/devices/{device}", headers=api.auth("operator")).json()
    assert body["origins"] == ["BR", "IN"]
    assert {r["country"]: r["kind"] for r in body["reasons"]} == {"BR": "INVALID", "IN": "STOLEN"}


def test_invalid_identifier_is_a_problem_naming_the_path_field(api: Api):
    for bad, reason in (
        ("490154203237519", "check digit"),
        ("12345", "wrong length"),
        ("4901542032375x8", "non-digit"),
        ("mac-00-11-22-33-44-55", "prefix"),
    ):
        r = api.client.get(f"/v1/devices/{bad}", headers=api.auth("operator"))
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == PROBLEM
        body = r.json()
        assert body["type"] == "urn:crossblock:problem:invalid-identifier"
        assert body["instance"] == f"/v1/devices/{bad}"
        assert body["invalid_params"][0]["name"] == "imei"
        assert body["invalid_params"][0]["in"] == "path"
        assert reason in body["invalid_params"][0]["reason"]


def test_batch_check_answers_in_order_with_errors_per_item(api: Api):
    stolen, dup, clean = imei(10), imei(11), imei(12)
    api.ledger.publish("IN", [(stolen, Kind.STOLEN), (dup, Kind.DUPLICATED)])
    body = {"imeis": [clean, stolen, "123", parse_imei(dup), stolen]}
    r = api.client.post("/v1/devices/check", json=body, headers=api.auth("operator"))
    assert r.status_code == 200
    out = r.json()
    assert out["checked"] == 4
    assert out["invalid"] == 1
    assert out["counts"] == {"WHITELISTED": 1, "GREYLISTED": 1, "BLACKLISTED": 2}
    results = out["results"]
    assert [x["index"] for x in results] == [0, 1, 2, 3, 4]
    assert results[0] == {"index": 0, "imei": clean, "status": "WHITELISTED", "origins": []}
    assert results[1] == {"index": 1, "imei": stolen, "status": "BLACKLISTED", "origins": ["IN"]}
    assert results[2]["imei"] == "123"
    assert "wrong length" in results[2]["error"]
    assert "status" not in results[2]
    assert results[3] == {"index": 3, "imei": dup, "status": "GREYLISTED", "origins": ["IN"]}
    with_reasons = api.client.post(
        "/v1/devices/check", json={"imeis": [stolen], "reasons": True}, headers=api.auth("operator")
    ).json()
    assert with_reasons["results"][0]["reasons"] == [
        {"country": "IN", "kind": "STOLEN", "status": "BLACKLISTED"}
    ]


def test_batch_check_body_is_the_json_the_other_answers_render(api: Api):
    stolen, dup = imei(30), imei(31)
    api.ledger.publish("IN", [(stolen, Kind.STOLEN)])
    api.ledger.publish("BR", [(stolen, Kind.LOST), (dup, Kind.DUPLICATED)])
    odd = 'x"é\\'  # an invalid identifier to escape
    imeisv = parse_imei(imei(32)) + "07"
    identifiers = [stolen, f" {dup} ", odd, parse_imei(stolen), "imei-" + stolen, imeisv, imei(33)]
    for reasons in (False, True):
        r = api.client.post(
            "/v1/devices/check", json={"imeis": identifiers, "reasons": reasons}, headers=api.auth("operator")
        )
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        out = r.json()
        assert [x["imei"] for x in out["results"]] == [stolen, dup, odd, stolen, stolen, imei(32), imei(33)]
        assert out["results"][0]["origins"] == ["BR", "IN"]
        assert r.content == JSONResponse(out).body  # compact UTF-8 JSON, as JSONResponse renders it


def test_batch_check_of_ten_thousand_and_one_is_refused(api: Api):
    devices = [imei(n) for n in range(10_000)]
    api.ledger.publish("IN", [(d, Kind.STOLEN) for d in devices[:500]])
    ok = api.client.post("/v1/devices/check", json={"imeis": devices}, headers=api.auth("operator"))
    assert ok.status_code == 200
    assert ok.json()["counts"] == {"WHITELISTED": 9_500, "GREYLISTED": 0, "BLACKLISTED": 500}
    too_many = api.client.post(
        "/v1/devices/check", json={"imeis": [*devices, imei(10_000)]}, headers=api.auth("operator")
    )
    assert too_many.status_code == 413
    assert too_many.headers["content-type"] == PROBLEM
    assert "at most 10000" in too_many.json()["detail"]


def test_batch_check_body_errors_name_the_fields(api: Api):
    r = api.client.post("/v1/devices/check", json={"imeis": "123", "extra": 1}, headers=api.auth("operator"))
    assert r.status_code == 422
    names = {(p["name"], p["in"]) for p in r.json()["invalid_params"]}
    assert names == {("imeis", "body"), ("extra", "body")}


def test_checks_are_counted_for_the_statistics_after_a_flush(api: Api):
    stolen = imei(20)
    api.ledger.publish("IN", [(stolen, Kind.STOLEN)])
    h = api.auth("operator")
    api.client.get(f"/v1/devices/{stolen}", headers=h)
    api.client.get(f"/v1/devices/{imei(21)}", headers=h)
    api.client.post("/v1/devices/check", json={"imeis": [stolen, imei(22), "bad"]}, headers=h)
    api.client.get(f"/n5g-eir-eic/v1/equipment-status?pei=imei-{stolen}", headers=h)
    sessions = api.app.state.api.context.sessions
    with sessions() as s:
        assert s.scalars(select(CheckEvent)).all() == []  # nothing written per request
    assert api.flush_checks() == 5
    with sessions() as s:
        figures = stats(s, country="BR")
    assert figures["checks"]["total"] == 5
    assert figures["checks"]["by_status"] == {"WHITELISTED": 2, "GREYLISTED": 0, "BLACKLISTED": 3}
    assert figures["blocked_attempts"]["cross_border"] == 3
    assert figures["blocked_attempts"]["by_origin"] == {"IN": 3}
    assert api.flush_checks() == 0
