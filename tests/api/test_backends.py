"""The API on each database backend (SQLite file, PostgreSQL): reports, checks, N5g-eir, counters.

On PostgreSQL the status lookup takes its SQLAlchemy path instead of SQLite's per-thread connections.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.services.stats import stats
from ledger_node.identifiers import parse_imei
from ledger_node.record import Kind
from tests.api.conftest import Api, imei


def test_the_api_on_each_backend(make_api: Callable[..., Api], database_url: str):
    api = make_api(database_url=database_url)
    stolen, dup, clean, ours = imei(1), imei(2), imei(3), imei(4)
    api.ledger.publish("IN", [(stolen, Kind.STOLEN), (dup, Kind.DUPLICATED)])
    reg, op = api.auth("regulator"), api.auth("operator")

    made = api.client.post(
        "/v1/reports", json=[{"imei": ours, "kind": "LOST"}, {"imei": "1", "kind": "LOST"}], headers=reg
    )
    assert [r["ok"] for r in made.json()["results"]] == [True, False]
    assert api.client.post(f"/v1/reports/{ours}/recovery", headers=reg).json()["changed"] is True
    assert api.client.post(f"/v1/reports/{stolen}/recovery", headers=reg).status_code == 409
    assert api.client.get("/v1/batches", headers=reg).json()["unbatched_records"] == 2

    device = api.client.get(f"/v1/devices/{stolen}", headers=op).json()
    assert (device["status"], device["reasons"]) == (
        "BLACKLISTED",
        [{"country": "IN", "kind": "STOLEN", "status": "BLACKLISTED"}],
    )
    explained = api.client.get(f"/v1/devices/{dup}?explain=true", headers=op).json()
    assert [e["country"] for e in explained["entries"]] == ["IN"]
    checked = api.client.post(
        "/v1/devices/check", json={"imeis": [stolen, parse_imei(dup), clean], "reasons": True}, headers=op
    )
    assert [r["status"] for r in checked.json()["results"]] == ["BLACKLISTED", "GREYLISTED", "WHITELISTED"]
    eir = api.client.get(f"/n5g-eir-eic/v1/equipment-status?pei=imei-{dup}", headers=op)
    assert eir.json() == {"status": "GREYLISTED"}

    assert api.flush_checks() == 6
    with api.app.state.api.context.sessions() as s:
        figures = stats(s, country="BR")
    assert figures["checks"]["by_status"] == {"WHITELISTED": 1, "GREYLISTED": 3, "BLACKLISTED": 2}
