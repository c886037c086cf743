"""Regulator endpoints in-process: POST /v1/reports (one or many), recovery, GET /v1/batches."""

from __future__ import annotations

import time

from sqlalchemy import select

from gateway.db.models import OutboxRecord, PublishedBatch, RegisterEntry
from ledger_node.identifiers import parse_imei
from ledger_node.record import Kind
from tests.api.conftest import Api, imei

PROBLEM = "application/problem+json"


def outbox(api: Api) -> list[tuple[str, int]]:
    with api.app.state.api.context.sessions() as s:
        return [(r.imei, r.kind) for r in s.scalars(select(OutboxRecord).order_by(OutboxRecord.id))]


def test_one_report_is_registered_with_its_outbox_record(api: Api):
    device = imei(1)
    body = {"imei": device, "kind": "STOLEN", "reported_at": 1_760_000_000, "case_ref": "BR-SP-2025-1"}
    r = api.client.post("/v1/reports", json=body, headers=api.auth("regulator"))
    assert r.status_code == 200
    assert r.json() == {
        "index": 0,
        "imei": device,
        "ok": True,
        "changed": True,
        "kind": "STOLEN",
        "reported_at": 1_760_000_000,
        "previous_kind": None,
        "error": None,
    }
    assert outbox(api) == [(parse_imei(device), int(Kind.STOLEN))]
    with api.app.state.api.context.sessions() as s:
        entry = s.get(RegisterEntry, parse_imei(device))
        assert entry is not None
        assert b"BR-SP-2025-1" not in entry.case_salt + entry.case_commitment  # only a commitment
    again = api.client.post("/v1/reports", json=body, headers=api.auth("regulator")).json()
    assert (again["ok"], again["changed"], again["previous_kind"]) == (True, False, "STOLEN")
    assert len(outbox(api)) == 1  # identical repeat: nothing to publish


def test_default_reported_at_is_now(api: Api):
    before = int(time.time())
    r = api.client.post("/v1/reports", json={"imei": imei(2), "kind": "LOST"}, headers=api.auth("regulator"))
    assert before <= r.json()["reported_at"] <= int(time.time())


def test_a_list_gets_per_item_results_in_order(api: Api):
    a, b, foreign = imei(3), imei(4), imei(5)
    api.ledger.publish("IN", [(foreign, Kind.STOLEN)])
    items = [
        {"imei": a, "kind": "STOLEN"},
        {"imei": "490154203237519", "kind": "LOST"},  # bad check digit
        {"imei": b, "kind": "DUPLICATED", "reported_at": 2**40},  # out of range
        {"imei": a, "kind": "RECOVERED"},  # sees the first item
        {"imei": foreign, "kind": "RECOVERED"},  # IN's block, not ours
        {"imei": b, "kind": "WITHDRAWN"},  # nothing of ours to withdraw
        {"imei": parse_imei(b), "kind": "INVALID"},
    ]
    r = api.client.post("/v1/reports", json=items, headers=api.auth("regulator"))
    assert r.status_code == 200
    out = r.json()
    assert (out["applied"], out["unchanged"], out["rejected"]) == (3, 0, 4)
    results = out["results"]
    assert [x["index"] for x in results] == list(range(7))
    assert [x["ok"] for x in results] == [True, False, False, True, False, False, True]
    codes = [x["error"]["code"] if x["error"] else None for x in results]
    assert codes == [None, "invalid_identifier", "rejected", None, "foreign_block", "not_blocked", None]
    assert results[1]["imei"] == "490154203237519"
    assert "reported_at" in results[2]["error"]["detail"]
    assert "IN" in results[4]["error"]["detail"]
    assert results[3]["previous_kind"] == "STOLEN"
    assert results[6]["imei"] == b
    assert outbox(api) == [
        (parse_imei(a), int(Kind.STOLEN)),
        (parse_imei(a), int(Kind.RECOVERED)),
        (parse_imei(b), int(Kind.INVALID)),
    ]


def test_an_invalid_kind_in_a_list_names_the_item(api: Api):
    items = [{"imei": imei(6), "kind": "STOLEN"}, {"imei": imei(7), "kind": "BROKEN"}]
    r = api.client.post("/v1/reports", json=items, headers=api.auth("regulator"))
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == "urn:crossblock:problem:validation-error"
    assert [(p["name"], p["in"]) for p in body["invalid_params"]] == [("1/kind", "body")]
    assert outbox(api) == []  # the request was refused as a whole


def test_single_report_problems_name_the_field(api: Api):
    h = api.auth("regulator")
    cases = [
        ({"imei": "12345", "kind": "STOLEN"}, 422, "invalid-identifier", "imei"),
        ({"imei": imei(8), "kind": "STOLEN", "reported_at": -5}, 422, "report-rejected", "reported_at"),
        ({"imei": imei(8), "kind": "RECOVERED"}, 422, "report-rejected", "kind"),
        ({"imei": imei(8)}, 422, "validation-error", "kind"),
        ({"imei": imei(8), "kind": "STOLEN", "colour": "red"}, 422, "validation-error", "colour"),
    ]
    for body, status, slug, field in cases:
        r = api.client.post("/v1/reports", json=body, headers=h)
        assert r.status_code == status, body
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert problem["type"] == f"urn:crossblock:problem:{slug}", body
        assert problem["title"]
        assert problem["instance"] == "/v1/reports"
        assert field in [p["name"] for p in problem["invalid_params"]], body
    for raw in (b"not json", b'"a string"'):
        r = api.client.post("/v1/reports", content=raw, headers={**h, "content-type": "application/json"})
        assert r.status_code == 422
        assert r.headers["content-type"] == PROBLEM
    assert outbox(api) == []


def test_too_many_reports_are_refused(api: Api):
    items = [{"imei": imei(n), "kind": "STOLEN"} for n in range(10_001)]
    r = api.client.post("/v1/reports", json=items, headers=api.auth("regulator"))
    assert r.status_code == 413
    assert r.json()["type"] == "urn:crossblock:problem:too-many-items"
    assert outbox(api) == []


def test_recovery_clears_our_block(api: Api):
    device = imei(9)
    h = api.auth("regulator")
    api.client.post("/v1/reports", json={"imei": device, "kind": "STOLEN"}, headers=h)
    r = api.client.post(f"/v1/reports/{device}/recovery", json={"reported_at": 1_760_086_400}, headers=h)
    assert r.status_code == 200
    out = r.json()
    assert (out["ok"], out["changed"], out["kind"], out["previous_kind"]) == (
        True,
        True,
        "RECOVERED",
        "STOLEN",
    )
    assert out["reported_at"] == 1_760_086_400
    repeat = api.client.post(f"/v1/reports/{device}/recovery", headers=h).json()
    assert (repeat["ok"], repeat["changed"]) == (True, False)
    assert [k for _, k in outbox(api)] == [int(Kind.STOLEN), int(Kind.RECOVERED)]


def test_recovery_of_another_countrys_block_or_of_nothing_is_a_conflict(api: Api):
    foreign, never = imei(10), imei(11)
    api.ledger.publish("IN", [(foreign, Kind.STOLEN)])
    h = api.auth("regulator")
    r = api.client.post(f"/v1/reports/{foreign}/recovery", headers=h)
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:crossblock:problem:foreign-block"
    assert "IN" in r.json()["detail"]
    r = api.client.post(f"/v1/reports/{never}/recovery", headers=h)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:crossblock:problem:not-blocked"
    r = api.client.post("/v1/reports/123/recovery", headers=h)
    assert r.status_code == 422
    assert r.json()["invalid_params"][0]["name"] == "imei"
    assert r.json()["invalid_params"][0]["in"] == "path"
    assert outbox(api) == []


def test_batches_list_own_batches_with_their_state(api: Api):
    h = api.auth("regulator")
    empty = api.client.get("/v1/batches", headers=h).json()
    assert empty == {"country": "BR", "unbatched_records": 0, "batches": [], "next_before": None}
    api.client.post("/v1/reports", json=[{"imei": imei(n), "kind": "LOST"} for n in range(3)], headers=h)
    states = {1: "confirmed", 2: "submitted", 3: "signed"}
    with api.app.state.api.context.sessions.begin() as s:
        for seq, state in states.items():
            s.add(
                PublishedBatch(
                    seq=seq,
                    prev_head=bytes(32),
                    head=bytes([seq]) * 32,
                    records_hash=bytes(32),
                    merkle_root=bytes([seq + 8]) * 32,
                    count=10 * seq,
                    records=b"\x01" * 16 * 10 * seq,
                    signature=bytes(65),
                    signer="0x" + "ab" * 20,
                    state=state,
                    tx_hash=None if state == "signed" else bytes([seq]) * 32,
                    block_number=100 + seq if state == "confirmed" else None,
                    created_at=1_760_000_000 + seq,
                )
            )
    body = api.client.get("/v1/batches", headers=h).json()
    assert body["unbatched_records"] == 3
    assert [(b["seq"], b["state"], b["count"]) for b in body["batches"]] == [
        (3, "pending", 30),
        (2, "submitted", 20),
        (1, "confirmed", 10),
    ]
    confirmed = body["batches"][2]
    assert confirmed["tx_hash"] == "0x" + "01" * 32
    assert confirmed["block_number"] == 101
    assert confirmed["head"] == "0x" + "01" * 32
    assert confirmed["merkle_root"] == "0x" + "09" * 32
    page = api.client.get("/v1/batches?limit=2", headers=h).json()
    assert [b["seq"] for b in page["batches"]] == [3, 2]
    assert page["next_before"] == 2
    rest = api.client.get("/v1/batches?limit=2&before=2", headers=h).json()
    assert [b["seq"] for b in rest["batches"]] == [1]
    assert rest["next_before"] is None
    bad = api.client.get("/v1/batches?limit=0", headers=h)
    assert bad.status_code == 422
    param = bad.json()["invalid_params"][0]
    assert (param["name"], param["in"]) == ("limit", "query")
    assert "greater than or equal to 1" in param["reason"]
