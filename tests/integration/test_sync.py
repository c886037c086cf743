"""The verifying syncer and the audit against a real anvil node.

Batches are built with ledger_node.batch, signed with each country's devnet signing key and relayed
by its relayer. A lying node is simulated by :mod:`tests.integration.rpc_proxy`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.db.models import (
    BLACKLISTED,
    GREYLISTED,
    WHITELISTED,
    CountryLog,
    LedgerBatch,
    LedgerRecord,
    QuarantinedBatch,
    SignerKey,
    SyncCursor,
)
from gateway.services.audit import audit_verify
from gateway.services.history import device_history
from gateway.services.status import StatusLookup, explain
from gateway.services.syncer import Syncer
from gateway.settings import GatewaySettings
from ledger_node.batch import Batch
from ledger_node.client import LedgerClient, TxResult
from ledger_node.devnet import Devnet
from ledger_node.paths import REPO_ROOT
from ledger_node.record import Kind, Record, pack_records
from ledger_node.signer import LocalSigner, sign_batch
from tests.integration.rpc_proxy import rpc_proxy

pytestmark = pytest.mark.anvil

ALL = ["IN", "BR", "KE", "DE"]


@pytest.fixture(autouse=True)
def backend(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs once on SQLite and once on PostgreSQL: the gateway settings of a test
    (and of the processes it starts) take their database from ``CROSSBLOCK_DATABASE_URL``."""
    monkeypatch.setenv("CROSSBLOCK_DATABASE_URL", database_url)
    return database_url


def core() -> str:
    """A random 14-digit IMEI core."""
    return "86" + f"{int.from_bytes(os.urandom(8), 'big') % 10**12:012d}"


def publish(
    net: Devnet,
    client: LedgerClient,
    country: str,
    entries: list[tuple[str, Kind]],
    signer: LocalSigner | None = None,
) -> tuple[Batch, TxResult]:
    """Build, sign and relay ``country``'s next batch."""
    head, seq = client.head_of(country)
    records = pack_records(
        Record(imei, kind, 1_760_000_000 + i, os.urandom(4)) for i, (imei, kind) in enumerate(entries)
    )
    batch = Batch.build(country, seq + 1, head, records)
    key = signer or LocalSigner(net.account(country, "signer").key)
    signature = sign_batch(key, batch, client.chain_id, client.address)
    result = client.publish(
        sender=net.account(country, "relayer"), batch=batch, records=records, signature=signature
    )
    return batch, result


def filler(n: int, kind: Kind = Kind.STOLEN) -> list[tuple[str, Kind]]:
    return [(core(), kind) for _ in range(n)]


def gateway(net: Devnet, path: Path, *, rpc_url: str | None = None, **overrides: object) -> GatewaySettings:
    deployment = net.deployment()
    values: dict[str, object] = {
        "country": "IN",
        "rpc_url": rpc_url or net.rpc_url,
        "ledger_address": deployment.ledger,
        "deploy_block": deployment.deploy_block,
        "data_dir": path,
        "honours": ALL,
        "sync_chunk_blocks": 7,  # several chunks even on a small chain
    }
    values.update(overrides)
    return GatewaySettings(**values)  # type: ignore[arg-type]


def database(settings: GatewaySettings) -> Engine:
    engine = make_engine(settings.database)
    migrate(engine)
    return engine


def count(engine: Engine, model: type, *where: object) -> int:
    with session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def assert_matches_chain(engine: Engine, client: LedgerClient) -> None:
    """Every country log equals the contract's headOf."""
    with session_factory(engine)() as s:
        logs = {
            log.country: (log.last_seq, log.head, log.blocked_seq) for log in s.scalars(select(CountryLog))
        }
    for cc in ALL:
        head, seq = client.head_of(cc)
        if seq:
            assert logs[cc] == (seq, head, None), cc


# ------------------------------------------------------------------------------------------ syncing


def test_sync_three_countries_statuses_history_and_idempotent_resync(devnet: Devnet, tmp_path: Path) -> None:
    client = devnet.client()
    x, y, z = core(), core(), core()
    publish(devnet, client, "IN", [(x, Kind.STOLEN), *filler(20)])
    publish(devnet, client, "BR", [(x, Kind.LOST), (y, Kind.DUPLICATED), *filler(5, Kind.LOST)])
    publish(devnet, client, "KE", [(z, Kind.INVALID), *filler(30)])
    publish(devnet, client, "IN", [(x, Kind.RECOVERED), (z, Kind.DUPLICATED)])
    publish(devnet, client, "DE", [(y, Kind.STOLEN)])

    settings = gateway(devnet, tmp_path, honours=["IN", "BR", "KE"])
    engine = database(settings)
    seen: list[int] = []
    with Syncer(settings=settings, engine=engine, client=client) as syncer:
        report = syncer.sync_once(progress=lambda r: seen.append(r.to_block))
        assert report.quarantined == report.held == 0
        assert report.batches >= 5
        assert report.records >= 60
        assert report.chunks > 1
        assert seen == sorted(seen)
        assert seen[-1] == report.to_block == client.block_number()
        assert report.signer_events >= 4
        assert_matches_chain(engine, client)

        lookup = StatusLookup(engine)
        assert lookup.status(x) == (BLACKLISTED, "BR")  # IN recovered, BR's LOST stays
        assert lookup.status(y) == (GREYLISTED, "BR")  # DE is not honoured by this gateway
        assert lookup.status(z) == (BLACKLISTED, "KE")
        assert lookup.status(core()) == (WHITELISTED, "")
        with session_factory(engine)() as s:
            ex = explain(s, imei=x, settings=settings)
            assert ex.status == "BLACKLISTED"
            assert [e.country for e in ex.contributing] == ["BR"]
            assert {e.country: e.kind for e in ex.other_entries} == {"IN": "RECOVERED"}
            history = device_history(s, imei=x)
        assert [(h.country, h.kind) for h in history] == [
            ("IN", "STOLEN"),
            ("BR", "LOST"),
            ("IN", "RECOVERED"),
        ]
        for h in history:
            assert h.proof_valid
            proof = [bytes.fromhex(p[2:]) for p in h.proof]
            assert client.verify_record(
                country=h.country, seq=h.seq, index=h.index, record=bytes.fromhex(h.record[2:]), proof=proof
            )

        records = count(engine, LedgerRecord)
        again = syncer.sync_once()
        assert (again.batches, again.records, again.skipped) == (0, 0, 0)
        # Re-reading the whole chain over applied data changes nothing.
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM sync_cursor"))
        replay = syncer.sync_once()
        assert replay.batches == 0
        assert replay.skipped == count(engine, LedgerBatch)
        assert count(engine, LedgerRecord) == records
        assert lookup.status(x) == (BLACKLISTED, "BR")
        lookup.close()

    audit = audit_verify(settings=settings, engine=engine, client=client)
    assert audit.ok, audit.lines()
    assert audit.batches_checked == count(engine, LedgerBatch)
    assert audit.records_checked == count(engine, LedgerRecord)


def test_sync_respects_confirmations_and_to_block(devnet: Devnet, tmp_path: Path) -> None:
    client = devnet.client()
    publish(devnet, client, "KE", filler(3))
    latest = client.block_number()
    settings = gateway(devnet, tmp_path, confirmations=1)
    engine = database(settings)
    with Syncer(settings=settings, engine=engine, client=client, verify_workers=0) as syncer:
        partial = syncer.sync_once(to_block=latest - 3)
        assert partial.to_block == latest - 3
        report = syncer.sync_once()
        assert report.from_block == latest - 2
        assert report.to_block == latest - 1
    with session_factory(engine)() as s:
        assert s.get(SyncCursor, 1).block_number == latest - 1
        assert s.scalar(select(func.max(LedgerBatch.block_number))) < latest


def test_node_errors_are_retried(devnet: Devnet, tmp_path: Path) -> None:
    with rpc_proxy(devnet.rpc_url) as proxy:
        client = LedgerClient.connect(proxy.url, devnet.deployment().ledger)
        settings = gateway(devnet, tmp_path, rpc_url=proxy.url)
        engine = database(settings)
        with Syncer(settings=settings, engine=engine, client=client, backoff=0.01) as syncer:
            proxy.fail_next(3)
            report = syncer.sync_once()
        assert report.batches > 0
        assert_matches_chain(engine, devnet.client())


def test_crash_mid_apply_leaves_nothing_then_resync_completes(devnet: Devnet, tmp_path: Path) -> None:
    client = devnet.client()
    publish(devnet, client, "BR", filler(10))
    settings = gateway(devnet, tmp_path, sync_chunk_blocks=100_000)
    engine = database(settings)
    script = (
        "import json, sys\n"
        "from gateway.db.engine import make_engine\n"
        "from gateway.services.syncer import Syncer\n"
        "from gateway.settings import GatewaySettings\n"
        "from ledger_node.client import LedgerClient\n"
        "settings = GatewaySettings(**json.loads(sys.argv[1]))\n"
        "client = LedgerClient.connect(settings.rpc_url, settings.ledger_address)\n"
        "Syncer(settings=settings, engine=make_engine(settings.database), client=client, verify_workers=0)"
        ".sync_once()\n"
    )
    env = {**os.environ, "CROSSBLOCK_FAILPOINT": "sync-mid-apply"}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(settings.model_dump(mode="json"))],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert count(engine, LedgerBatch) == count(engine, LedgerRecord) == count(engine, SyncCursor) == 0
    assert count(engine, SignerKey) == 0
    with Syncer(settings=settings, engine=engine, client=client) as syncer:
        report = syncer.sync_once()
    assert report.batches > 0
    assert audit_verify(settings=settings, engine=engine, client=client).ok


# ------------------------------------------------------------------------------ tampering and audit


def test_tampered_logs_are_quarantined_later_batches_held_others_applied(
    devnet: Devnet, tmp_path: Path
) -> None:
    client = devnet.client()
    victim = core()
    bad, _ = publish(devnet, client, "KE", [*filler(3), (victim, Kind.STOLEN)])
    held, _ = publish(devnet, client, "KE", [(victim, Kind.LOST)])
    publish(devnet, client, "IN", [(victim, Kind.DUPLICATED)])

    settings = gateway(devnet, tmp_path)
    engine = database(settings)
    with rpc_proxy(devnet.rpc_url) as proxy:
        proxy.tamper_record("KE", bad.seq, index=3, byte=5)
        lying = LedgerClient.connect(proxy.url, client.address)
        with Syncer(settings=settings, engine=engine, client=lying) as syncer:
            report = syncer.sync_once()
        assert proxy.tampered[("KE", bad.seq)] == 1
    assert report.quarantined == 1
    assert report.held == 1
    assert "records-hash" in report.rejected[0] or "keccak256" in report.rejected[0]

    with session_factory(engine)() as s:
        rejected = s.get(QuarantinedBatch, ("KE", bad.seq))
        assert rejected is not None
        assert rejected.state == "rejected"
        assert "[records-hash]" in rejected.reason
        assert s.get(QuarantinedBatch, ("KE", held.seq)).state == "held"
        assert s.get(LedgerBatch, ("KE", bad.seq)) is None
        assert s.get(LedgerBatch, ("KE", held.seq)) is None
    assert count(engine, LedgerRecord, LedgerRecord.seq >= bad.seq, LedgerRecord.country == "KE") == 0
    with session_factory(engine)() as s:
        log = s.get(CountryLog, "KE")
        assert (log.last_seq, log.blocked_seq) == (bad.seq - 1, bad.seq)
    lookup = StatusLookup(engine)
    assert lookup.status(victim) == (GREYLISTED, "IN")  # IN applied, nothing of KE's
    head_in, seq_in = client.head_of("IN")
    with session_factory(engine)() as s:
        assert (s.get(CountryLog, "IN").last_seq, s.get(CountryLog, "IN").head) == (seq_in, head_in)

    # Syncing again through an honest node does not unblock the country by itself.
    with Syncer(settings=settings, engine=engine, client=client) as syncer:
        syncer.sync_once()
        assert count(engine, LedgerBatch, LedgerBatch.country == "KE", LedgerBatch.seq >= bad.seq) == 0

        audit = audit_verify(settings=settings, engine=engine, client=client)
        assert not audit.ok
        text_lines = "\n".join(audit.lines())
        assert f"KE#{bad.seq}: not applied: quarantined (rejected)" in text_lines
        assert f"KE#{held.seq}: not applied: quarantined (held)" in text_lines
        assert "headOf" in text_lines
        assert all(d.country in ("KE",) for d in audit.discrepancies), audit.lines()
        scoped = audit_verify(settings=settings, engine=engine, client=client, country="IN")
        assert scoped.ok, scoped.lines()

        # Once the node is trusted again, the operator releases the country and it catches up.
        assert syncer.release("KE") == 2
        report = syncer.sync_once()
        assert report.batches >= 2
        assert report.skipped > 0
    assert lookup.status(victim) == (BLACKLISTED, "KE")
    lookup.close()
    audit = audit_verify(settings=settings, engine=engine, client=client)
    assert audit.ok, audit.lines()


def test_audit_fails_loudly_on_a_tampered_database(devnet: Devnet, tmp_path: Path) -> None:
    client = devnet.client()
    target, other = core(), core()
    batch, _ = publish(devnet, client, "BR", [*filler(1), (other, Kind.STOLEN), (target, Kind.STOLEN)])
    settings = gateway(devnet, tmp_path)
    engine = database(settings)
    with Syncer(settings=settings, engine=engine, client=client) as syncer:
        syncer.sync_once()
    assert audit_verify(settings=settings, engine=engine, client=client).ok

    key = {"s": batch.seq}
    with engine.begin() as conn:
        blob = bytes(
            conn.execute(
                text("SELECT records FROM ledger_batches WHERE country = 'BR' AND seq = :s"), key
            ).scalar_one()
        )
        altered = bytearray(blob)
        altered[2 * 16] = 0x13  # the target's record (index 2) now says IMEI RECOVERED
        altered += blob[0:16]  # and the stored batch holds one record more than the chain's
        conn.execute(
            text("UPDATE ledger_batches SET records = :r WHERE country = 'BR' AND seq = :s"),
            {**key, "r": bytes(altered)},
        )
        conn.execute(text("UPDATE device_status SET status = 0, origins = '' WHERE imei = :i"), {"i": other})
        conn.execute(text("DELETE FROM ledger_records WHERE country = 'BR' AND seq = :s AND idx = 0"), key)
        conn.execute(
            text(
                "INSERT INTO ledger_records (imei, country, seq, idx, kind, reported_at) "
                "VALUES ('86000000000000', 'BR', :s, 7, 1, 0)"
            ),
            key,
        )
    audit = audit_verify(settings=settings, engine=engine, client=client)
    assert not audit.ok
    lines = audit.lines()
    seq = batch.seq
    assert any(line.startswith(f"BR#{seq}[2]: record differs") for line in lines), lines
    assert any(line.startswith(f"BR#{seq}[3]: record in the database but not") for line in lines), lines
    assert any(line.startswith(f"BR#{seq}[0]: IMEI index (ledger_records) lacks") for line in lines), lines
    assert f"BR#{seq}: 1 rows in the IMEI index (ledger_records) are not its records" in lines, lines
    assert any("device_status" in line and other in line for line in lines), lines

    with engine.begin() as conn:  # the stored batch restored; the target's index row now lies
        restore = text("UPDATE ledger_batches SET records = :r WHERE country = 'BR' AND seq = :s")
        conn.execute(restore, {**key, "r": blob})
        conn.execute(text("DELETE FROM ledger_records WHERE idx = 7 AND country = 'BR' AND seq = :s"), key)
        conn.execute(text("UPDATE ledger_records SET kind = 3 WHERE imei = :i"), {"i": target})
    audit = audit_verify(settings=settings, engine=engine, client=client)
    lines = audit.lines()
    assert not any("record differs" in line for line in lines), lines
    lying = f"BR#{seq}[2]: IMEI index (ledger_records) row (imei {target}"
    assert any(line.startswith(lying) for line in lines), lines
    assert any("device_status" in line and target in line for line in lines), lines


def test_audit_compares_published_batches(devnet: Devnet, tmp_path: Path) -> None:
    client = devnet.client()
    batch, result = publish(devnet, client, "DE", filler(4))
    settings = gateway(devnet, tmp_path, country="DE")
    engine = database(settings)
    with Syncer(settings=settings, engine=engine, client=client) as syncer:
        syncer.sync_once()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO published_batches (seq, prev_head, head, records_hash, merkle_root, count, "
                "records, signature, signer, state, tx_hash, block_number, created_at) VALUES (:seq, :prev, "
                ":head, :rh, :root, :count, :records, :sig, :signer, 'confirmed', :tx, :block, 0)"
            ),
            {
                "seq": batch.seq,
                "prev": batch.prev_head,
                "head": batch.head,
                "rh": batch.records_hash,
                "root": batch.merkle_root,
                "count": batch.count,
                "records": b"\x00" * 64,
                "sig": b"\x01" * 65,
                "signer": devnet.account("DE", "signer").address,
                "tx": result.tx_hash,
                "block": result.block_number,
            },
        )
    audit = audit_verify(settings=settings, engine=engine, client=client, country="DE")
    assert any(
        line.startswith(f"DE#{batch.seq}: published batch differs from the chain in records, signature")
        for line in audit.lines()
    ), audit.lines()


# --------------------------------------------------------------------------- signers and reorgs


def test_rotated_signer_is_followed_and_a_revoked_key_is_refused(
    fresh_devnet: Devnet, tmp_path: Path
) -> None:
    net = fresh_devnet
    client = net.client()
    old = LocalSigner(net.account("IN", "signer").key)
    new = LocalSigner(os.urandom(32))
    publish(net, client, "IN", filler(2), signer=old)
    client.add_signer(sender=net.account("IN", "admin"), country="IN", signer=new.address)
    client.revoke_signer(sender=net.account("IN", "admin"), country="IN", signer=old.address)
    publish(net, client, "IN", filler(2), signer=new)
    settings = gateway(net, tmp_path, sync_chunk_blocks=2)
    engine = database(settings)
    with Syncer(settings=settings, engine=engine, client=client) as syncer:
        report = syncer.sync_once()
    assert (report.batches, report.quarantined) == (2, 0)
    with session_factory(engine)() as s:
        keys = {
            k.signer: (k.active_from, k.revoked_at)
            for k in s.scalars(select(SignerKey).where(SignerKey.country == "IN"))
        }
    assert keys[old.address][1] is not None
    assert keys[new.address][1] is None
    assert audit_verify(settings=settings, engine=engine, client=client).ok


def test_reorg_is_detected_and_rewound(fresh_devnet: Devnet, tmp_path: Path) -> None:
    net = fresh_devnet
    client = net.client()
    first, second = core(), core()
    publish(net, client, "IN", [(core(), Kind.LOST)])
    snapshot = client.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    publish(net, client, "IN", [(first, Kind.STOLEN)])
    publish(net, client, "BR", [(first, Kind.STOLEN)])

    settings = gateway(net, tmp_path, sync_chunk_blocks=3)
    engine = database(settings)
    lookup = StatusLookup(engine)
    with Syncer(settings=settings, engine=engine, client=client) as syncer:
        syncer.sync_once()
        assert lookup.status(first) == (BLACKLISTED, "BR,IN")
        applied = count(engine, LedgerBatch)

        assert client.w3.provider.make_request("evm_revert", [snapshot])["result"]  # type: ignore[arg-type]
        alternative, _ = publish(net, client, "IN", [(second, Kind.LOST)])
        client.w3.provider.make_request("anvil_mine", [hex(3)])  # type: ignore[arg-type]
        report = syncer.sync_once()
        assert report.rewound_to is not None
        assert report.rewound_batches == 2
        assert report.batches == 1
    assert lookup.status(first) == (WHITELISTED, "")
    assert lookup.status(second) == (BLACKLISTED, "IN")
    lookup.close()
    assert count(engine, LedgerBatch) == applied - 1
    with session_factory(engine)() as s:
        assert s.get(LedgerBatch, ("IN", alternative.seq)).head == alternative.head
        assert s.get(LedgerBatch, ("BR", 1)) is None
    assert_matches_chain(engine, client)
    audit = audit_verify(settings=settings, engine=engine, client=client)
    assert audit.ok, audit.lines()
