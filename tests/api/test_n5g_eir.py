"""3GPP TS 29.511 N5g-eir equipment-status, every answer validated against the official OpenAPI."""

from __future__ import annotations

import re

import pytest

from ledger_node.identifiers import parse_imei
from ledger_node.record import Kind
from tests.api import threegpp
from tests.api.conftest import Api, imei

PATH = "/n5g-eir-eic/v1/equipment-status"


def checked(r, status: int) -> dict:
    """Assert the HTTP status, validate the body against the spec's schema for it, return the body."""
    assert r.status_code == status, r.text
    media = "application/json" if status == 200 else "application/problem+json"
    assert r.headers["content-type"] == media
    body = r.json()
    threegpp.validate(status, media, body)
    return body


def test_status_of_each_list(api: Api):
    stolen, dup, clean = imei(1), imei(2), imei(3)
    api.ledger.publish("IN", [(stolen, Kind.STOLEN), (dup, Kind.DUPLICATED)])
    h = api.auth("operator")
    for device, expected in ((stolen, "BLACKLISTED"), (dup, "GREYLISTED"), (clean, "WHITELISTED")):
        body = checked(api.client.get(PATH, params={"pei": f"imei-{device}"}, headers=h), 200)
        assert body == {"status": expected}


def test_imeisv_supi_gpsi_and_supported_features_are_accepted(api: Api):
    stolen = imei(4)
    api.ledger.publish("DE", [(stolen, Kind.LOST)])
    params = {
        "pei": f"imeisv-{parse_imei(stolen)}13",
        "supi": "imsi-724011234567890",
        "gpsi": "msisdn-5511987654321",
        "supported-features": "0",
    }
    body = checked(api.client.get(PATH, params=params, headers=api.auth("operator")), 200)
    assert body == {"status": "BLACKLISTED"}


def test_recovered_equipment_is_whitelisted_even_in_not_found_mode(make_api):
    api = make_api(unknown_equipment="NOT_FOUND")
    device = imei(5)
    api.ledger.publish("IN", [(device, Kind.STOLEN)])
    api.ledger.publish("IN", [(device, Kind.RECOVERED)])
    body = checked(api.client.get(PATH, params={"pei": f"imei-{device}"}, headers=api.auth("operator")), 200)
    assert body == {"status": "WHITELISTED"}


def test_unknown_equipment_is_404_when_configured(make_api):
    api = make_api(unknown_equipment="NOT_FOUND")
    r = api.client.get(PATH, params={"pei": f"imei-{imei(6)}"}, headers=api.auth("operator"))
    body = checked(r, 404)
    assert body["cause"] == "ERROR_EQUIPMENT_UNKNOWN"
    assert body["status"] == 404


def test_missing_pei_is_mandatory_ie_missing(api: Api):
    body = checked(
        api.client.get(PATH, params={"supi": "imsi-724011234567890"}, headers=api.auth("operator")), 400
    )
    assert body["cause"] == "MANDATORY_IE_MISSING"
    assert body["invalidParams"] == [{"param": "query pei", "reason": "missing"}]


@pytest.mark.parametrize(
    ("pei", "reason"),
    [
        ("imei-490154203237519", "bad check digit"),
        ("imei-49015420323751", "needs 15 digits"),
        ("imeisv-490154203237518", "needs 16 digits"),
        ("490154203237518", "expected imei-"),
        ("mac-00-11-22-33-44-55", "expected imei-"),
        ("imei-4901542032375x8", "non-digit"),
        ("", "expected imei-"),
    ],
)
def test_malformed_pei_is_mandatory_ie_incorrect(api: Api, pei: str, reason: str):
    body = checked(api.client.get(PATH, params={"pei": pei}, headers=api.auth("operator")), 400)
    assert body["cause"] == "MANDATORY_IE_INCORRECT"
    assert body["invalidParams"][0]["param"] == "query pei"
    assert reason in body["invalidParams"][0]["reason"]
    assert body["instance"] == PATH


def test_empty_optional_ie_is_optional_ie_incorrect(api: Api):
    params = {"pei": f"imei-{imei(7)}", "gpsi": ""}
    body = checked(api.client.get(PATH, params=params, headers=api.auth("operator")), 400)
    assert body["cause"] == "OPTIONAL_IE_INCORRECT"
    assert body["invalidParams"][0]["param"] == "query gpsi"


def test_auth_and_rate_limit_answers_are_valid_problem_details(make_api):
    api = make_api(api_rate_limit=0.001, api_rate_burst=1)
    params = {"pei": f"imei-{imei(8)}"}
    checked(api.client.get(PATH, params=params), 401)
    checked(api.client.get(PATH, params=params, headers=api.auth("auditor")), 403)
    checked(api.client.get(PATH, params=params, headers=api.auth("operator")), 200)
    r = api.client.get(PATH, params=params, headers=api.auth("operator"))
    checked(r, 429)
    assert int(r.headers["retry-after"]) >= 1


def test_the_pei_forms_we_accept_match_the_spec_pattern():
    pattern = re.compile(threegpp.parameter_pattern("pei"))
    for pei in (f"imei-{imei(9)}", f"imeisv-{parse_imei(imei(9))}00"):
        assert pattern.match(pei)
