"""The fast lane answers exactly what the documented routes answer (status, headers, body bytes)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.api.fastlane import FastLane
from ledger_node.identifiers import parse_imei
from ledger_node.record import Kind
from tests.api.conftest import Api, imei

EIR = "/n5g-eir-eic/v1/equipment-status"
COMPARED_HEADERS = ("content-type", "content-length", "www-authenticate", "retry-after")


def lanes(api: Api) -> tuple[object, object]:
    """The app's middleware stack with the fast lane, and the same stack without it."""
    app = api.app
    with_lane = app.build_middleware_stack()
    kept = app.user_middleware
    app.user_middleware = [m for m in kept if m.cls is not FastLane]
    without = app.build_middleware_stack()
    app.user_middleware = kept
    return with_lane, without


def compare(api: Api, requests: list[tuple[str, dict[str, str]]]) -> list[int]:
    """Send each request through both stacks; assert identical answers; return the statuses."""
    with_lane, without = lanes(api)
    statuses = []
    for url, headers in requests:
        answers = []
        for stack in (with_lane, without):
            api.app.middleware_stack = stack  # type: ignore[assignment]
            answers.append(api.client.get(url, headers=headers))
        fast, routed = answers
        assert fast.status_code == routed.status_code, url
        assert fast.content == routed.content, url
        for name in COMPARED_HEADERS:
            assert fast.headers.get(name) == routed.headers.get(name), (url, name)
        statuses.append(fast.status_code)
    api.app.middleware_stack = with_lane  # type: ignore[assignment]
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
