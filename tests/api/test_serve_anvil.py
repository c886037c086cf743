"""The HTTP API of real `crossblock serve` processes on a real anvil devnet.

IN's gateway (two uvicorn workers: the app-factory path) takes reports over HTTP; it publishes and
BR's gateway syncs (in-process services on the same databases, so each step is deterministic); BR's
operator then asks its own server (one worker).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.api.auth import create_api_key
from ledger_node.devnet import Devnet
from ledger_node.identifiers import imei15
from ledger_node.paths import REPO_ROOT
from tests.api import threegpp
from tests.api.devnet_app import devnet_of_own
from tests.conftest import free_port
from tests.integration.gateways import CROSSBLOCK, DevnetGateway

pytestmark = pytest.mark.anvil

PROBLEM = "application/problem+json"
STOLEN = [imei15(f"8612{n:010d}") for n in (101, 202, 303)]
LOST = imei15("86120000000404")


@dataclass
class Server:
    """A `crossblock serve` process and a client for it."""

    gateway: DevnetGateway
    process: subprocess.Popen[str]
    http: httpx.Client
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def create_key(gw: DevnetGateway, role: str) -> str:
    """A new key in the gateway's database (as `crossblock keys create` makes it; tested in test_auth)."""
    with gw.sessions.begin() as session:
        key, _row = create_api_key(session, role=role, label=f"{role} test")
    return key


def wait_until_up(http: httpx.Client, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"crossblock serve exited {process.returncode}: {log.read_text()}")
        try:
            if http.get("/openapi.json").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"crossblock serve did not answer: {log.read_text()}")


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet of this module: its IN gateway starts from an empty log (seq 1)."""
    with devnet_of_own(tmp_path_factory.mktemp("serve-devnet")) as net:
        yield net


@pytest.fixture(scope="module")
def servers(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    root = tmp_path_factory.mktemp("serve")
    overrides = {"BR": {"api_rate_limit": "0.01", "api_rate_burst": "25"}, "IN": {}}
    workers = {"IN": "2", "BR": "1"}
    started: dict[str, Server] = {}
    try:
        for cc in ("IN", "BR"):
            gw = DevnetGateway(devnet, cc, root / cc, dict(overrides[cc]))
            keys = {role: create_key(gw, role) for role in ("regulator", "operator", "auditor", "admin")}
            port = free_port()
            log = root / f"{cc}.log"
            process = subprocess.Popen(
                [str(CROSSBLOCK), "serve", "--port", str(port), "--workers", workers[cc], "--no-background"],
                cwd=REPO_ROOT,
                env=gw.env(),
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                text=True,
            )
            http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            started[cc] = Server(gw, process, http, keys)
            wait_until_up(http, process, log)
        yield started
    finally:
        stops: dict[str, int | None] = {}
        for cc, server in started.items():
            server.http.close()
            server.process.send_signal(signal.SIGTERM)
            try:
                stops[cc] = server.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
                stops[cc] = None
    # SIGTERM stops each server gracefully: every worker runs its lifespan shutdown (check counters
    # flushed). A single uvicorn server re-raises the signal once done, so it ends "by" SIGTERM.
    for cc in started:
        assert stops[cc] in (0, -signal.SIGTERM), (cc, stops[cc])
        text = (root / f"{cc}.log").read_text()
        assert text.count("Application shutdown complete.") == int(workers[cc]), text


def test_report_publish_sync_check_recover_across_real_gateways(servers: dict[str, Server]):
    india, brazil = servers["IN"], servers["BR"]
    items = [{"imei": i, "kind": "STOLEN", "case_ref": f"IN-DL-{n}"} for n, i in enumerate(STOLEN)]
    items.append({"imei": LOST, "kind": "LOST"})
    r = india.http.post("/v1/reports", json=items, headers=india.auth("regulator"))
    assert r.status_code == 200, r.text
    assert (r.json()["applied"], r.json()["rejected"]) == (4, 0)
    pending = india.http.get("/v1/batches", headers=india.auth("regulator")).json()
    assert (pending["unbatched_records"], pending["batches"]) == (4, [])

    india.gateway.publish()
    batches = india.http.get("/v1/batches", headers=india.auth("regulator")).json()
    assert batches["unbatched_records"] == 0
    assert [(b["seq"], b["state"], b["count"]) for b in batches["batches"]] == [(1, "confirmed", 4)]
    assert batches["batches"][0]["tx_hash"].startswith("0x")
    assert batches["batches"][0]["block_number"] > 0

    brazil.gateway.sync()
    op = brazil.auth("operator")
    device = brazil.http.get(f"/v1/devices/{STOLEN[0]}", headers=op).json()
    assert device == {
        "imei": STOLEN[0],
        "status": "BLACKLISTED",
        "origins": ["IN"],
        "reasons": [{"country": "IN", "kind": "STOLEN", "status": "BLACKLISTED"}],
    }
    eir = brazil.http.get("/n5g-eir-eic/v1/equipment-status", params={"pei": f"imei-{LOST}"}, headers=op)
    assert eir.status_code == 200
    threegpp.validate(200, "application/json", eir.json())
    assert eir.json() == {"status": "BLACKLISTED"}
    checked = brazil.http.post("/v1/devices/check", json={"imeis": [*STOLEN, LOST, "0"]}, headers=op).json()
    assert checked["counts"] == {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 4}
    assert checked["invalid"] == 1

    # BR cannot clear IN's block; IN recovers one of its own.
    refused = brazil.http.post(f"/v1/reports/{STOLEN[1]}/recovery", headers=brazil.auth("regulator"))
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"] == "urn:crossblock:problem:foreign-block"
    recovered = india.http.post(f"/v1/reports/{STOLEN[1]}/recovery", headers=india.auth("admin"))
    assert recovered.status_code == 200
    assert (recovered.json()["kind"], recovered.json()["previous_kind"]) == ("RECOVERED", "STOLEN")
    india.gateway.publish()
    brazil.gateway.sync()
    eir = brazil.http.get("/n5g-eir-eic/v1/equipment-status", params={"pei": f"imei-{STOLEN[1]}"}, headers=op)
    assert eir.json() == {"status": "WHITELISTED"}
    assert brazil.http.get(f"/v1/devices/{STOLEN[1]}", headers=op).json()["status"] == "WHITELISTED"
    assert brazil.http.get(f"/v1/devices/{STOLEN[2]}", headers=op).json()["status"] == "BLACKLISTED"
    states = india.http.get("/v1/batches", headers=india.auth("regulator")).json()["batches"]
    assert [(b["seq"], b["state"]) for b in states] == [(2, "confirmed"), (1, "confirmed")]


def test_errors_of_a_real_server_are_problems(servers: dict[str, Server]):
    brazil = servers["BR"]
    missing = brazil.http.get(f"/v1/devices/{STOLEN[0]}")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == PROBLEM
    wrong = brazil.http.post(
        "/v1/reports", json={"imei": LOST, "kind": "LOST"}, headers=brazil.auth("operator")
    )
    assert wrong.status_code == 403
    assert wrong.json()["type"] == "urn:crossblock:problem:forbidden"
    bad = brazil.http.get("/v1/devices/86120000000405", headers=brazil.auth("auditor"))
    assert bad.status_code == 403  # the role is checked before the identifier
    bad = brazil.http.get("/v1/devices/8612000000040x", headers=brazil.auth("operator"))
    assert bad.status_code == 422
    assert bad.json()["invalid_params"][0]["name"] == "imei"
    eir = brazil.http.get(
        "/n5g-eir-eic/v1/equipment-status", params={"pei": "imei-1"}, headers=brazil.auth("admin")
    )
    assert eir.status_code == 400
    threegpp.validate(400, PROBLEM, eir.json())
    assert eir.json()["cause"] == "MANDATORY_IE_INCORRECT"


def test_rate_limit_of_a_real_server(servers: dict[str, Server]):
    brazil = servers["BR"]
    key = {"Authorization": f"Bearer {create_key(brazil.gateway, 'operator')}"}
    answers = [brazil.http.get(f"/v1/devices/{LOST}", headers=key).status_code for _ in range(26)]
    assert answers == [200] * 25 + [429]
    limited = brazil.http.get("/n5g-eir-eic/v1/equipment-status", params={"pei": f"imei-{LOST}"}, headers=key)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    threegpp.validate(429, PROBLEM, limited.json())
