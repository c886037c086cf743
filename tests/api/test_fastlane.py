"""The fast lane answers exactly what the documented routes answer (status, headers, body bytes)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import JSONResponse

from gateway.api.fastlane import GatewayApp
from gateway.api.routers.devices import device_answer, device_json
from ledger_node.identifiers import parse_imei
from ledger_node.record import Kind
from tests.api.conftest import Api, imei

EIR = "/n5g-eir-eic/v1/equipment-status"
COMPARED_HEADERS = ("content-type", "content-length", "www-authenticate", "retry-after")


def compare(api: Api, requests: list[tuple[str, dict[str, str]]]) -> list[int]:
    """Send each request with the fast lane and without it; assert identical answers; return the statuses."""
    app = api.app
    assert isinstance(app, GatewayApp)
    lane = app.fast_lane
    assert lane is not None
    statuses = []
    try:
        for url, headers in requests:
            answers = []
            for current in (lane, None):
                app.fast_lane = current
                answers.append(api.client.get(url, headers=headers))
            fast, routed = answers
            assert fast.status_code == routed.status_code, url
            assert fast.content == routed.content, url
            for name in COMPARED_HEADERS:
                assert fast.headers.get(name) == routed.headers.get(name), (url, name)
            statuses.append(fast.status_code)
    finally:
        app.fast_lane = lane
    return statuses


def test_fast_lane_and_routes_agree(make_api: Callable[..., Api]):
    api = make_api(unknown_equipment="NOT_FOUND")
    stolen, dup, unknown = imei(1), imei(2), imei(3)
    api.ledger.publish("IN", [(stolen, Kind.STOLEN), (dup, Kind.DUPLICATED)])
    api.ledger.publish("DE", [(stolen, Kind.LOST)])
    op, other = api.auth("operator"), api.auth("regulator")
    requests = [
        (f"/v1/devices/{stolen}", op),
        (f"/v1/devices/{parse_imei(dup)}", op),
        (f"/v1/devices/imeisv-{parse_imei(unknown)}01", api.auth("admin")),
        ("/v1/devices/49015420323751%20x", op),
        ("/v1/devices/check", op),
        (f"/v1/devices/{stolen}", {}),
        (f"/v1/devices/{stolen}", {"Authorization": "Bearer nope"}),
        (f"/v1/devices/{stolen}", {"Authorization": "Token abc"}),
        (f"/v1/devices/{stolen}", other),
        (f"{EIR}?pei=imei-{stolen}", op),
        (f"{EIR}?pei=imei-{dup}&supi=imsi-724011234567890&gpsi=msisdn-55119", op),
        (f"{EIR}?pei=imei-{unknown}", op),
        (f"{EIR}?pei=imei-1&pei=imei-{stolen}", op),
        (f"{EIR}?pei=mac-00-11-22-33-44-55", op),
        (f"{EIR}?supi=imsi-724011234567890", op),
        (f"{EIR}?pei=imei-{stolen}&gpsi=", op),
        (f"{EIR}?pei=imei-{stolen}", other),
        (f"{EIR}?pei=imei-{stolen}", {}),
        (f"{EIR}?pei=imei%2D{stolen}", op),
        (f"{EIR}?pei=+imei-{stolen}", op),
        (f"{EIR}?pei=imei-{stolen}=", op),
    ]
    statuses = compare(api, requests)
    assert statuses == [
        200,
        200,
        200,
        422,
        422,
        401,
        401,
        401,
        403,
        200,
        200,
        404,
        200,
        400,
        400,
        400,
        403,
        401,
        200,
        400,
        400,
    ]


def test_fast_lane_and_routes_agree_on_the_rate_limit(make_api: Callable[..., Api]):
    api = make_api(api_rate_limit=0.001, api_rate_burst=1)
    op = api.auth("operator")
    assert api.client.get(f"/v1/devices/{imei(4)}", headers=op).status_code == 200  # the one token
    statuses = compare(api, [(f"/v1/devices/{imei(4)}", op), (f"{EIR}?pei=imei-{imei(4)}", op)])
    assert statuses == [429, 429]


def test_explain_and_other_methods_go_to_the_routes(api: Api):
    device = imei(5)
    api.ledger.publish("IN", [(device, Kind.STOLEN)])
    body = api.client.get(f"/v1/devices/{device}?explain=true", headers=api.auth("operator")).json()
    assert body["entries"][0]["country"] == "IN"
    assert api.client.head(f"/v1/devices/{device}", headers=api.auth("operator")).status_code == 405


def test_device_answer_bytes_are_what_json_response_renders(api: Api):
    both, dup, unknown = imei(6), imei(7), imei(8)
    api.ledger.publish("IN", [(both, Kind.STOLEN), (dup, Kind.DUPLICATED)])
    api.ledger.publish("DE", [(both, Kind.LOST)])
    api.ledger.publish("KE", [(dup, Kind.STOLEN)])  # not honoured: no origin, no reason
    state = api.app.state.api
    forms = [both, f" {both} ", parse_imei(dup), f"imei-{dup}", f"{parse_imei(unknown)}01", unknown]
    for value in forms:
        core = parse_imei(value)
        assert device_json(state, core, value) == JSONResponse(device_answer(state, core)).body, value
    assert b'"origins":["DE","IN"]' in device_json(state, parse_imei(both))
