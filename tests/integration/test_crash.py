"""Crash safety with a real ``kill -9``: the `crossblock publish` and `crossblock sync` processes die
at named failpoints (gateway/failpoints.py) and are started again.

After every restart each record is on chain exactly once, the country's seq has no gap or
duplicate, and every database passes ``audit verify``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.db.models import CountryLog, LedgerBatch, LedgerRecord, OutboxRecord, SyncCursor
from gateway.services.reports import ReportInput, add_reports_bulk
from ledger_node.devnet import Devnet
from ledger_node.paths import REPO_ROOT
from tests.integration.gateways import CROSSBLOCK, DevnetGateway, records_on_chain

pytestmark = pytest.mark.anvil

KILLED = -signal.SIGKILL


def report_stolen(gw: DevnetGateway, n: int) -> list[str]:
    """``n`` new random IMEIs reported STOLEN by ``gw`` (register and outbox)."""
    imeis = sorted({"35" + f"{int.from_bytes(os.urandom(8), 'big') % 10**12:012d}" for _ in range(n)})
    with gw.sessions.begin() as session:
        results = add_reports_bulk(
            session, country=gw.country, items=[ReportInput(i, "STOLEN", case_ref=i) for i in imeis]
        )
    assert all(r.ok for r in results)
    return imeis


def assert_exactly_once(gw: DevnetGateway, seqs: list[int]) -> None:
    """The chain holds batches ``seqs`` of ``gw``'s country, and every outbox record exactly once."""
    chain_seqs, records = records_on_chain(gw.client, gw.country, from_block=gw.settings.deploy_block)
    assert chain_seqs == seqs
    assert records == {r: 1 for r in gw.outbox_records()}
    assert gw.client.head_of(gw.country)[1] == seqs[-1]
    published = gw.published()
    assert [(b.seq, b.state) for b in published] == [(s, "confirmed") for s in seqs]
    for batch in published:
        event = gw.client.find_batch(country=gw.country, seq=batch.seq, from_block=gw.settings.deploy_block)
        assert event is not None
        assert (event.records, event.signature) == (batch.records, batch.signature)
        assert (event.position.tx_hash, event.position.block_number) == (batch.tx_hash, batch.block_number)


def test_publisher_killed_after_signing_and_after_submitting(fresh_devnet: Devnet, tmp_path: Path) -> None:
    # SQLite; the publisher on PostgreSQL runs in test_scenario.py.
    india = DevnetGateway(fresh_devnet, "IN", tmp_path / "IN", {"batch_size": 100})
    report_stolen(india, 250)

    # Killed once the second batch is signed and stored: batch 1 is on chain, batch 2 only here.
    run = india.run("publish", failpoint="publish-after-sign@2")
    assert run.returncode == KILLED, run.stderr
    assert [(b.seq, b.state) for b in india.published()] == [(1, "confirmed"), (2, "signed")]
    assert india.client.head_of("IN")[1] == 1
    signed = india.published()[1]
    assert india.count(OutboxRecord, OutboxRecord.batch_seq.is_(None)) == 50

    # More reports arrive; the next run resubmits batch 2 unchanged and is killed once it is mined.
    report_stolen(india, 30)
    run = india.run("publish", failpoint="publish-after-submit")
    assert run.returncode == KILLED, run.stderr
    assert [(b.seq, b.state) for b in india.published()] == [(1, "confirmed"), (2, "submitted")]
    assert india.client.head_of("IN") == (signed.head, 2)

    # A clean run recognises batch 2 on chain and publishes the rest.
    run = india.run("publish")
    assert run.returncode == 0, run.stderr
    assert "1 found already on chain" in run.stdout
    assert_exactly_once(india, [1, 2, 3])
    assert [b.count for b in india.published()] == [100, 100, 80]
    assert india.published()[1].signature == signed.signature
    again = india.publish()
    assert (again.batches, again.reconciled, again.resubmitted) == (0, 0, 0)

    brazil = DevnetGateway(fresh_devnet, "BR", tmp_path / "BR")
    for gw in (india, brazil):
        assert gw.sync().records == 280
        audit = gw.audit()
        assert audit.ok, (gw.country, audit.lines())


def test_syncer_killed_mid_apply_restarts_from_the_last_committed_chunk(
    fresh_devnet: Devnet, tmp_path: Path
) -> None:
    # SQLite; a SIGKILL mid-apply on PostgreSQL is in test_sync.py.
    india = DevnetGateway(fresh_devnet, "IN", tmp_path / "IN", {"batch_size": 50})
    report_stolen(india, 200)
    assert india.publish().batches == 4
    blocks = [b.block_number for b in india.published()]
    assert blocks == sorted(set(blocks))

    # One block per chunk: killed while applying the chunk that holds IN#3, after IN#1-2 committed.
    brazil = DevnetGateway(fresh_devnet, "BR", tmp_path / "BR", {"sync_chunk_blocks": 1})
    deploy = brazil.settings.deploy_block
    third = blocks[2] - deploy + 1
    run = brazil.run("sync", "--workers", "0", failpoint=f"sync-mid-apply@{third}")
    assert run.returncode == KILLED, run.stderr
    with brazil.sessions() as s:
        cursor = s.get(SyncCursor, 1)
        assert cursor is not None
        assert cursor.block_number == blocks[2] - 1
        assert s.get(CountryLog, "IN").last_seq == 2
    assert brazil.count(LedgerBatch) == 2
    assert brazil.count(LedgerRecord) == 100
    interrupted = brazil.audit()  # consistent up to its cursor
    assert interrupted.ok, interrupted.lines()
    assert interrupted.to_block == blocks[2] - 1

    run = brazil.run("sync", "--workers", "0")
    assert run.returncode == 0, run.stderr
    assert brazil.count(LedgerBatch, LedgerBatch.country == "IN") == 4
    assert brazil.count(LedgerRecord) == 200
    imeis = [r[1:8].hex() for r in india.outbox_records()]
    assert set(brazil.statuses(imeis).values()) == {("BLACKLISTED", "IN")}
    assert_exactly_once(india, [1, 2, 3, 4])
    india.sync()
    for gw in (india, brazil):
        audit = gw.audit()
        assert audit.ok, (gw.country, audit.lines())
        assert audit.records_checked == 200


def test_publisher_killed_while_its_transaction_waits_in_the_mempool(
    fresh_devnet: Devnet, tmp_path: Path
) -> None:
    """A real node does not mine at once: the run is killed with its transaction still pending, and the
    restarted run resubmits before that transaction is mined. Both land in one block, the second
    reverts, and the batch is still published exactly once and confirmed."""
    india = DevnetGateway(fresh_devnet, "IN", tmp_path / "IN")
    report_stolen(india, 30)
    w3 = india.client.w3
    relayer = fresh_devnet.account("IN", "relayer").address

    def pending_transactions() -> int:
        return w3.eth.get_transaction_count(relayer, "pending") - w3.eth.get_transaction_count(relayer)

    def wait_for_pending(n: int) -> None:
        for _ in range(1200):
            if pending_transactions() >= n:
                return
            time.sleep(0.05)
        raise AssertionError(f"never saw {n} pending transactions")

    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        process = subprocess.Popen(
            [str(CROSSBLOCK), "publish"],
            cwd=REPO_ROOT,
            env=india.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_for_pending(1)
        process.kill()
        assert process.wait(timeout=60) == KILLED
        assert [(b.seq, b.state) for b in india.published()] == [(1, "submitted")]
        assert india.client.head_of("IN")[1] == 0

        with ThreadPoolExecutor(1) as pool:
            restarted = pool.submit(india.publish)
            wait_for_pending(2)
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            report = restarted.result(timeout=120)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert (report.resubmitted, report.batches) == (1, 0)
    assert_exactly_once(india, [1])
    india.sync()
    audit = india.audit()
    assert audit.ok, audit.lines()
