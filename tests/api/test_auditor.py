"""Auditor endpoints on a real anvil devnet: history with proofs checked by the contract's
verifyRecord, a country's verified log, audit jobs (inline answer, 202 and polling, failure).

IN's regulator reports over HTTP, IN publishes, recovers one device and publishes again; BR's
gateway syncs and answers the auditor.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.errors import AuditBusyError, SyncError
from gateway.services.audit import AuditReport
from gateway.services.audit_jobs import AuditJobs
from ledger_node.devnet import Devnet
from ledger_node.errors import NodeUnavailableError
from ledger_node.identifiers import imei15, parse_imei
from tests.api.devnet_app import DevnetApi, devnet_of_own, open_app
from tests.conftest import free_port

pytestmark = pytest.mark.anvil

PROBLEM = "application/problem+json"
STOLEN = [imei15(f"8613{n:010d}") for n in (11, 22, 33)]
NEVER = imei15("86130000000999")


@dataclass
class World:
    net: Devnet
    india: DevnetApi
    brazil: DevnetApi
    root: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("auditor")
    with (
        devnet_of_own(root / "devnet") as net,
        open_app(net, "IN", root / "IN") as india,
        open_app(net, "BR", root / "BR", audit_sync_wait_seconds=60.0) as brazil,
    ):
        items = [{"imei": i, "kind": "STOLEN", "case_ref": f"IN-MH-{n}"} for n, i in enumerate(STOLEN)]
        r = india.http.post("/v1/reports", json=items, headers=india.auth("regulator"))
        assert r.json()["applied"] == 3, r.text
        india.gateway.publish()
        r = india.http.post(f"/v1/reports/{STOLEN[0]}/recovery", headers=india.auth("regulator"))
        assert r.status_code == 200, r.text
        india.gateway.publish()
        brazil.gateway.sync()
        yield World(net, india, brazil, root)


def test_history_lists_every_record_with_a_proof_the_contract_accepts(world: World):
    br = world.brazil
    r = br.http.get(f"/v1/devices/{STOLEN[0]}/history", headers=br.auth("auditor"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["imei"] == STOLEN[0]
    assert body["ledger_address"] == world.net.deployment().ledger
    records = body["records"]
    assert [(x["country"], x["kind"], x["seq"]) for x in records] == [
        ("IN", "STOLEN", 1),
        ("IN", "RECOVERED", 2),
    ]
    own = {
        b["seq"]: b
        for b in world.india.http.get("/v1/batches", headers=world.india.auth("regulator")).json()["batches"]
    }
    client = br.gateway.client
    signer = world.net.account("IN", "signer").address
    for x in records:
        assert x["proof_valid"] is True
        assert x["signer"].lower() == signer.lower()
        assert (x["tx_hash"], x["block_number"]) == (own[x["seq"]]["tx_hash"], own[x["seq"]]["block_number"])
        assert x["merkle_root"] == own[x["seq"]]["merkle_root"]
        assert bytes.fromhex(x["record"][2:])[1:8].hex() == parse_imei(STOLEN[0])
        proof = [bytes.fromhex(p[2:]) for p in x["proof"]]
        record = bytes.fromhex(x["record"][2:])
        assert client.verify_record(country="IN", seq=x["seq"], index=x["index"], record=record, proof=proof)
        # The contract's check is not a formality: another index or another record fails it.
        assert not client.verify_record(
            country="IN", seq=x["seq"], index=x["index"] + 1, record=record, proof=proof
        )
        forged = record[:-1] + bytes([record[-1] ^ 1])
        assert not client.verify_record(
            country="IN", seq=x["seq"], index=x["index"], record=forged, proof=proof
        )
    # The three reports of batch 1 are three leaves of one tree, each with its own proof.
    firsts = [
        br.http.get(f"/v1/devices/{i}/history", headers=br.auth("auditor")).json()["records"][0]
        for i in STOLEN
    ]
    assert sorted(x["index"] for x in firsts) == [0, 1, 2]
    assert len({x["merkle_root"] for x in firsts}) == 1


def test_history_accepts_every_imei_form_and_names_a_bad_one(world: World):
    br, h = world.brazil, world.brazil.auth("auditor")
    core = parse_imei(STOLEN[1])
    for form in (core, STOLEN[1], core + "00", f"imei-{STOLEN[1]}"):
        r = br.http.get(f"/v1/devices/{form}/history", headers=h)
        assert r.status_code == 200, (form, r.text)
        assert [x["kind"] for x in r.json()["records"]] == ["STOLEN"]
    assert br.http.get(f"/v1/devices/{NEVER}/history", headers=h).json()["records"] == []
    wrong_check_digit = STOLEN[1][:-1] + str((int(STOLEN[1][-1]) + 1) % 10)
    bad = br.http.get(f"/v1/devices/{wrong_check_digit}/history", headers=h)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM
    assert bad.json()["invalid_params"][0]["name"] == "imei"


def test_country_batches_show_the_verified_log(world: World):
    br, h = world.brazil, world.brazil.auth("auditor")
    head, seq = br.gateway.client.head_of("IN")
    r = br.http.get("/v1/countries/in/batches", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["country"], body["last_seq"], body["head"], body["blocked_seq"]) == (
        "IN",
        seq,
        "0x" + head.hex(),
        None,
    )
    batches = body["batches"]
    assert [b["seq"] for b in batches] == [2, 1]
    assert [b["count"] for b in batches] == [1, 3]
    assert batches[0]["prev_head"] == batches[1]["head"]
    assert batches[1]["prev_head"] == "0x" + "00" * 32
    assert body["quarantined"] == []
    assert body["next_before"] is None
    page = br.http.get("/v1/countries/IN/batches", params={"limit": 1}, headers=h).json()
    assert ([b["seq"] for b in page["batches"]], page["next_before"]) == ([2], 2)
    rest = br.http.get("/v1/countries/IN/batches", params={"limit": 1, "before": 2}, headers=h).json()
    assert [b["seq"] for b in rest["batches"]] == [1]
    empty = br.http.get("/v1/countries/KE/batches", headers=h).json()
    assert (empty["last_seq"], empty["head"], empty["batches"]) == (0, None, [])
    bad = br.http.get("/v1/countries/I1/batches", headers=h)
    assert bad.status_code == 422
    assert bad.json()["invalid_params"][0]["name"] == "cc"


def test_audit_answers_inline_when_quick(world: World):
    br = world.brazil
    r = br.http.post("/v1/audit/verify", json={}, headers=br.auth("auditor"))
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["state"] == "succeeded"
    report = job["report"]
    assert report["ok"] is True, report["discrepancies"]
    assert report["batches_checked"] == 2
    assert report["records_checked"] == 4
    assert job["status_url"] == f"/v1/audit/jobs/{job['id']}"
    again = br.http.get(job["status_url"], headers=br.auth("auditor"))
    assert again.json() == job
    scoped = br.http.post("/v1/audit/verify", json={"country": "in"}, headers=br.auth("admin")).json()
    assert (scoped["country"], scoped["report"]["country"], scoped["report"]["ok"]) == ("IN", "IN", True)


def test_audit_runs_in_the_background_with_a_status_url(world: World):
    with open_app(world.net, "BR", world.root / "BR", audit_sync_wait_seconds=0.0) as br:
        r = br.http.post("/v1/audit/verify", headers=br.auth("auditor"))
        assert r.status_code == 202, r.text
        assert r.headers["location"] == r.json()["status_url"]
        deadline = time.monotonic() + 60
        job = r.json()
        while job["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
            job = br.http.get(r.headers["location"], headers=br.auth("auditor")).json()
        assert job["state"] == "succeeded"
        assert job["report"]["ok"] is True
        assert job["finished_at"] >= job["started_at"]
        missing = br.http.get("/v1/audit/jobs/0123456789abcdef", headers=br.auth("auditor"))
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM


def test_audit_finds_a_tampered_database(world: World):
    # A copy of BR's database where one applied record was altered: the audit names it.
    copy = world.root / "BR-tampered"
    copy.mkdir()
    with (
        sqlite3.connect(world.root / "BR" / "gateway.sqlite") as src,
        sqlite3.connect(copy / "gateway.sqlite") as dst,
    ):
        src.backup(dst)
    with open_app(world.net, "BR", copy, audit_sync_wait_seconds=60.0) as br:
        with br.gateway.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE ledger_records SET kind = 2 WHERE country = 'IN' AND seq = 2 AND idx = 0"
            )
        job = br.http.post("/v1/audit/verify", json={"country": "IN"}, headers=br.auth("auditor")).json()
        assert job["state"] == "succeeded"
        assert job["report"]["ok"] is False
        assert any(d["country"] == "IN" and d["seq"] == 2 for d in job["report"]["discrepancies"])
        history = br.http.get(f"/v1/devices/{STOLEN[0]}/history", headers=br.auth("auditor")).json()
        assert [x["proof_valid"] for x in history["records"]] == [True, False]


def test_an_audit_that_cannot_reach_the_node_is_a_503(world: World):
    closed = f"http://127.0.0.1:{free_port()}"
    with open_app(
        world.net, "BR", world.root / "BR-offline", rpc_url=closed, audit_sync_wait_seconds=60.0
    ) as br:
        r = br.http.post("/v1/audit/verify", json={}, headers=br.auth("auditor"))
        assert r.status_code == 503
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["type"] == "urn:crossblock:problem:node-unavailable"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/v1/devices/{STOLEN[0]}/history"),
        ("GET", "/v1/countries/IN/batches"),
        ("POST", "/v1/audit/verify"),
        ("GET", "/v1/audit/jobs/0123456789abcdef"),
    ],
)
def test_auditor_endpoints_admit_auditor_and_admin_only(world: World, method: str, path: str):
    br = world.brazil
    assert br.http.request(method, path).status_code == 401
    for role in ("regulator", "operator"):
        r = br.http.request(method, path, headers=br.auth(role))
        assert r.status_code == 403, role
        assert r.json()["type"] == "urn:crossblock:problem:forbidden"
    for role in ("auditor", "admin"):
        assert br.http.request(method, path, headers=br.auth(role)).status_code in (200, 404), role


def test_any_worker_answers_the_status_url(world: World):
    # Two apps on one data directory stand for two worker processes of one `crossblock serve`.
    with open_app(world.net, "BR", world.root / "BR", audit_sync_wait_seconds=60.0) as other:
        job = world.brazil.http.post("/v1/audit/verify", json={}, headers=world.brazil.auth("auditor")).json()
        seen = other.http.get(job["status_url"], headers=world.brazil.auth("auditor"))
        assert seen.status_code == 200, seen.text
        assert seen.json() == job


def test_a_job_whose_process_died_is_reported_failed(world: World):
    gone = subprocess.Popen(["true"])
    gone.wait()
    store = world.root / "BR" / "audit-jobs"
    job_id = "00112233445566ff"
    state = {
        "id": job_id, "state": "running", "country": None, "started_at": 1.0, "finished_at": None,
        "batches_checked": 1, "records_checked": 3, "report": None, "error": None, "pid": gone.pid,
    }  # fmt: skip
    (store / f"{job_id}.json").write_text(json.dumps(state), encoding="utf-8")
    r = world.brazil.http.get(f"/v1/audit/jobs/{job_id}", headers=world.brazil.auth("auditor"))
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["batches_checked"]) == ("failed", 1)
    assert "stopped" in r.json()["error"]


# --------------------------------------------------------------------------- the job runner itself


class Gate:
    """An audit runner that blocks until released, and counts its runs."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.runs: list[str | None] = []

    def __call__(self, country: str | None, progress: Callable[[AuditReport], None]) -> AuditReport:
        self.runs.append(country)
        report = AuditReport(country=country, batches_checked=1, records_checked=2)
        progress(report)
        if not self.release.wait(30):
            raise SyncError("never released")
        return report


def test_job_runner_dedupes_a_scope_bounds_concurrency_and_persists(tmp_path: Path):
    gate = Gate()
    jobs = AuditJobs(gate, store=tmp_path, max_running=2)
    first = jobs.start(country="in")
    assert jobs.start(country="IN") is first
    second = jobs.start()
    with pytest.raises(AuditBusyError):
        jobs.start(country="KE")
    assert first.state == second.state == "running"
    gate.release.set()
    assert first.wait(30)
    assert second.wait(30)
    assert sorted(gate.runs, key=str) == ["IN", None]
    assert (first.state, first.report is not None, first.error) == ("succeeded", True, None)
    elsewhere = AuditJobs(gate, store=tmp_path)
    assert elsewhere.get(first.id) is None
    assert elsewhere.status(first.id) == first.to_dict()
    assert elsewhere.status("../../etc/passwd") is None
    assert jobs.start(country="KE").country == "KE"  # a slot is free again


def test_job_runner_keeps_the_error_of_a_failed_audit(tmp_path: Path):
    def offline(_country: str | None, _progress: Callable[[AuditReport], None]) -> AuditReport:
        raise NodeUnavailableError("no node")

    job = AuditJobs(offline, store=tmp_path).start()
    assert job.wait(30)
    assert (job.state, job.error) == ("failed", "NodeUnavailableError: no node")
    assert isinstance(job.exception, NodeUnavailableError)
    assert AuditJobs(offline, store=tmp_path).status(job.id)["state"] == "failed"
