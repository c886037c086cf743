"""The effective-status engine: the policy fold, the incremental store, lookup, explain, history, rewind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from gateway.db.models import (
    BLACKLISTED,
    GREYLISTED,
    WHITELISTED,
    Base,
    CountryLog,
    DeviceStatus,
    LedgerBatch,
    LedgerRecord,
    Meta,
    QuarantinedBatch,
    SeenBlock,
    SignerKey,
)
from gateway.errors import SyncError
from gateway.services.apply import (
    REJECTED,
    BatchWriter,
    apply_batch,
    apply_signer_event,
    block_country,
    ensure_policy,
    load_country_states,
    load_signers,
    quarantine_batch,
    read_cursor,
    refold_all,
    rewind_above,
    unpack_header,
    write_cursor,
)
from gateway.services.entries import Entry, latest_entries
from gateway.services.history import device_history
from gateway.services.status import Policy, StatusLookup, explain, fold
from gateway.services.verify import VerifiedBatch, verify_batch
from gateway.settings import GatewaySettings
from ledger_node.batch import ZERO_HASH, Batch
from ledger_node.events import BatchEvent, LogPosition, SignerEvent
from ledger_node.identifiers import imei15
from ledger_node.merkle import verify_record
from ledger_node.record import Kind, Record, pack_records
from ledger_node.signer import LocalSigner, sign_batch

CHAIN_ID = 31337
LEDGER = "0x" + "ab" * 20
KEY = LocalSigner(bytes.fromhex("33" * 32))
ALL = ("IN", "BR", "KE", "DE")
A, B, C = "35000000000001", "35000000000002", "35000000000003"
POLICY_KINDS = {
    "STOLEN": "BLACKLISTED",
    "LOST": "BLACKLISTED",
    "INVALID": "BLACKLISTED",
    "DUPLICATED": "GREYLISTED",
}
POLICY = Policy.make(honours=["IN", "BR", "KE"], kind_status=POLICY_KINDS)


# ------------------------------------------------------------------------------------- pure fold


def test_fold_unlisted_is_whitelisted():
    assert fold([], POLICY) == (WHITELISTED, "")


def test_fold_country_not_honoured_is_ignored():
    assert fold([("DE", int(Kind.STOLEN))], POLICY) == (WHITELISTED, "")
    assert fold([("DE", int(Kind.STOLEN)), ("KE", int(Kind.LOST))], POLICY) == (BLACKLISTED, "KE")


def test_fold_duplicated_is_greylisted():
    assert fold([("BR", int(Kind.DUPLICATED))], POLICY) == (GREYLISTED, "BR")


def test_fold_blacklist_outranks_greylist():
    entries = [("BR", int(Kind.DUPLICATED)), ("IN", int(Kind.INVALID))]
    assert fold(entries, POLICY) == (BLACKLISTED, "IN")


def test_fold_recovered_clears_only_that_country():
    entries = [("IN", int(Kind.RECOVERED)), ("KE", int(Kind.STOLEN))]
    assert fold(entries, POLICY) == (BLACKLISTED, "KE")
    assert fold([("IN", int(Kind.RECOVERED))], POLICY) == (WHITELISTED, "")
    assert fold([("IN", int(Kind.WITHDRAWN))], POLICY) == (WHITELISTED, "")


def test_fold_two_blocking_countries_origins_sorted():
    assert fold([("KE", int(Kind.LOST)), ("BR", int(Kind.STOLEN))], POLICY) == (BLACKLISTED, "BR,KE")


def test_policy_cannot_make_clearing_kinds_count():
    policy = Policy.make(honours=["IN"], kind_status={"RECOVERED": "BLACKLISTED", "STOLEN": "GREYLISTED"})
    assert fold([("IN", int(Kind.RECOVERED))], policy) == (WHITELISTED, "")
    assert fold([("IN", int(Kind.STOLEN))], policy) == (GREYLISTED, "IN")


def test_policy_fingerprint_changes_with_policy():
    other = Policy.make(honours=["IN", "BR"], kind_status={"STOLEN": "BLACKLISTED"})
    assert POLICY.fingerprint() != other.fingerprint()
    assert POLICY.fingerprint() == Policy.make(honours=["KE", "BR", "IN"], kind_status=dict(
        DUPLICATED="GREYLISTED", INVALID="BLACKLISTED", LOST="BLACKLISTED", STOLEN="BLACKLISTED"
    )).fingerprint()  # fmt: skip


# ------------------------------------------------------------------------------------ the store


class Ledger:
    """Builds verified batches per country, as the syncer would get them, and applies them."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.heads: dict[str, tuple[int, bytes]] = {}
        self.block = 10
        self.events: list[BatchEvent] = []

    def event(
        self, country: str, entries: list[tuple[str, Kind]], *, tamper_root: bool = False
    ) -> BatchEvent:
        seq, head = self.heads.get(country, (0, ZERO_HASH))
        recs = pack_records(
            Record(imei, kind, 1_760_000_000 + i, os.urandom(4)) for i, (imei, kind) in enumerate(entries)
        )
        batch = Batch.build(country, seq + 1, head, recs)
        if tamper_root:
            batch = Batch(country, seq + 1, head, batch.records_hash, b"\x99" * 32, batch.count)
        self.block += 1
        event = BatchEvent(
            country=country,
            seq=seq + 1,
            signer=KEY.address,
            prev_head=head,
            records_hash=batch.records_hash,
            merkle_root=batch.merkle_root,
            count=batch.count,
            signature=sign_batch(KEY, batch, CHAIN_ID, LEDGER),
            records=recs,
            position=LogPosition(self.block, self.block.to_bytes(32, "big"), os.urandom(32), 0),
        )
        self.events.append(event)
        return event

    def verified(self, event: BatchEvent) -> VerifiedBatch:
        seq, head = self.heads.get(event.country, (0, ZERO_HASH))
        v = verify_batch(
            event,
            expected_seq=seq + 1,
            expected_prev_head=head,
            chain_id=CHAIN_ID,
            ledger_address=LEDGER,
            signer_active=lambda *_: True,
        )
        self.heads[event.country] = (event.seq, v.head)
        return v

    def publish(
        self, country: str, entries: list[tuple[str, Kind]], policy: Policy = POLICY
    ) -> VerifiedBatch:
        v = self.verified(self.event(country, entries))
        with self.engine.begin() as conn:
            apply_batch(conn, v, policy=policy)
        return v


@pytest.fixture
def ledger(db) -> Ledger:
    return Ledger(db.engine)


def statuses(db) -> dict[str, tuple[int, str, int]]:
    with db.factory() as s:
        return {r.imei: (r.status, r.origins, r.change_id) for r in s.scalars(select(DeviceStatus))}


def status_of(db, imei: str) -> tuple[int, str]:
    row = statuses(db).get(imei)
    return (WHITELISTED, "") if row is None else row[:2]


def entry(db, imei: str, country: str) -> Entry | None:
    """``country``'s latest entry for ``imei`` (kind, seq, idx, reported_at), from the stored records."""
    with db.factory() as s:
        rows = s.execute(
            select(LedgerRecord.imei, LedgerRecord.country, LedgerRecord.kind, LedgerRecord.seq,
                   LedgerRecord.idx, LedgerRecord.reported_at).where(LedgerRecord.kind < 16)
        )  # fmt: skip
        return latest_entries(rows).get(imei, {}).get(country)


def test_apply_stores_batch_records_entries_status_and_log(db, ledger):
    v = ledger.publish("IN", [(A, Kind.STOLEN), (B, Kind.DUPLICATED), (C, Kind.RECOVERED)])
    with db.factory() as s:
        batch = s.get(LedgerBatch, ("IN", 1))
        assert batch is not None
        assert batch.head == v.head
        assert batch.count == 3
        assert batch.block_number == v.event.position.block_number
        rows = s.scalars(select(LedgerRecord).order_by(LedgerRecord.idx)).all()
        assert [(r.idx, r.imei, r.kind) for r in rows] == [(0, A, 1), (1, B, 4), (2, C, 3)]
        assert batch.records == v.event.records  # the packed records exactly as published
        assert rows[1].reported_at == int.from_bytes(v.event.records[24:28], "big")
    assert entry(db, C, "IN")[0] == Kind.RECOVERED
    with db.factory() as s:
        log = s.get(CountryLog, "IN")
        assert (log.last_seq, log.head, log.blocked_seq) == (1, v.head, None)
    st = statuses(db)
    assert st[A][:2] == (BLACKLISTED, "IN")
    assert st[B][:2] == (GREYLISTED, "IN")
    assert C not in st  # a recovery of a never-listed IMEI creates no status row
    assert sorted(x[2] for x in st.values()) == [1, 2]


def test_reapplying_a_batch_is_a_no_op(db, ledger):
    v = ledger.publish("IN", [(A, Kind.STOLEN)])
    before = statuses(db)
    with db.engine.begin() as conn:
        result = apply_batch(conn, v, policy=POLICY)
    assert result.skipped
    assert statuses(db) == before
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(LedgerRecord)) == 1


def test_a_different_batch_at_an_applied_seq_is_refused(db, ledger):
    ledger.publish("IN", [(A, Kind.STOLEN)])
    ledger.heads["IN"] = (0, ZERO_HASH)
    other = ledger.verified(ledger.event("IN", [(B, Kind.STOLEN)]))
    with pytest.raises(SyncError, match="different batch"), db.engine.begin() as conn:
        apply_batch(conn, other, policy=POLICY)


def test_later_record_wins_within_a_batch_and_across_batches(db, ledger):
    ledger.publish("IN", [(A, Kind.STOLEN), (A, Kind.RECOVERED), (B, Kind.LOST)])
    assert status_of(db, A) == (WHITELISTED, "")
    assert status_of(db, B) == (BLACKLISTED, "IN")
    ledger.publish("IN", [(B, Kind.WITHDRAWN), (A, Kind.LOST)])
    assert status_of(db, A) == (BLACKLISTED, "IN")
    assert status_of(db, B) == (WHITELISTED, "")
    kind, seq, idx, _at = entry(db, A, "IN")
    assert (seq, idx, kind) == (2, 1, Kind.LOST)


def test_two_countries_block_one_recovers_the_other_remains_origin(db, ledger):
    ledger.publish("IN", [(A, Kind.STOLEN)])
    ledger.publish("KE", [(A, Kind.LOST)])
    assert status_of(db, A) == (BLACKLISTED, "IN,KE")
    ledger.publish("IN", [(A, Kind.RECOVERED)])
    assert status_of(db, A) == (BLACKLISTED, "KE")
    ledger.publish("KE", [(A, Kind.RECOVERED)])
    assert status_of(db, A) == (WHITELISTED, "")


def test_an_imei_blocked_by_every_member_lists_them_all_as_origins(db, ledger):
    # A cloned IMEI may be reported by very many countries: the origins column holds them all.
    members = sorted({a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "AEIOU"})[:120]
    policy = Policy.make(honours=members, kind_status=dict(POLICY_KINDS))
    for cc in members:
        ledger.publish(cc, [(A, Kind.DUPLICATED)], policy)
    assert status_of(db, A) == (GREYLISTED, ",".join(members))
    lookup = StatusLookup(db.engine)
    assert lookup.status(A) == (GREYLISTED, ",".join(members))
    lookup.close()


def test_records_of_a_country_not_honoured_are_stored_but_ignored(db, ledger):
    ledger.publish("DE", [(A, Kind.STOLEN)])
    assert status_of(db, A) == (WHITELISTED, "")
    assert entry(db, A, "DE") is not None
    ledger.publish("BR", [(A, Kind.DUPLICATED)])
    assert status_of(db, A) == (GREYLISTED, "BR")


def test_change_id_grows_only_on_real_changes(db, ledger):
    ledger.publish("IN", [(A, Kind.STOLEN), (B, Kind.STOLEN)])
    first = statuses(db)
    ledger.publish("IN", [(A, Kind.LOST)])  # still BLACKLISTED by IN: no change
    assert statuses(db) == first
    ledger.publish("BR", [(A, Kind.STOLEN)])  # origins change
    after = statuses(db)
    assert after[A][:2] == (BLACKLISTED, "BR,IN")
    assert after[A][2] > max(x[2] for x in first.values())
    assert after[B] == first[B]
    ledger.publish("IN", [(B, Kind.RECOVERED)])
    final = statuses(db)
    assert final[B][:2] == (WHITELISTED, "")  # the row stays: the delta feed must show the clearing
    assert final[B][2] > after[A][2]
    ids = [x[2] for x in final.values()]
    assert len(set(ids)) == len(ids)


def test_meid_records_are_stored_but_not_folded(db, ledger):
    v = ledger.verified(ledger.event("IN", [(A, Kind.STOLEN)]))
    meid = Record("a0000000000001", Kind.STOLEN, 1_760_000_000, b"\x00\x01\x02\x03", id_type=2).pack()
    recs = v.event.records + meid
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    ledger.heads.clear()
    event = BatchEvent("IN", 1, KEY.address, ZERO_HASH, batch.records_hash, batch.merkle_root, 2,
                       sign_batch(KEY, batch, CHAIN_ID, LEDGER), recs, v.event.position)  # fmt: skip
    with db.engine.begin() as conn:
        apply_batch(conn, ledger.verified(event), policy=POLICY)
    with db.factory() as s:
        rec = s.get(LedgerRecord, ("a0000000000001", "IN", 1, 1))
        assert (rec.kind, rec.reported_at) == (0x21, 1_760_000_000)
        assert s.get(LedgerBatch, ("IN", 1)).records[16:32] == meid
    assert entry(db, "a0000000000001", "IN") is None
    assert status_of(db, A) == (BLACKLISTED, "IN")


def test_policy_change_refolds_everything(db, ledger):
    ledger.publish("IN", [(A, Kind.STOLEN)])
    ledger.publish("DE", [(B, Kind.STOLEN)])
    with db.engine.begin() as conn:
        assert ensure_policy(conn, policy=POLICY)  # first time: records the fingerprint
        assert not ensure_policy(conn, policy=POLICY)
    narrow = Policy.make(honours=["DE"], kind_status={"STOLEN": "GREYLISTED"})
    with db.engine.begin() as conn:
        assert ensure_policy(conn, policy=narrow)
    assert status_of(db, A) == (WHITELISTED, "")
    assert status_of(db, B) == (GREYLISTED, "DE")
    with db.factory() as s:
        assert s.get(Meta, "status_policy").value == narrow.fingerprint()
    with db.engine.begin() as conn:
        assert refold_all(conn, policy=narrow) == 0


def test_signers_cursor_and_seen_blocks(db):
    pos = LogPosition(5, b"\x05" * 32, b"\x06" * 32, 0)
    with db.engine.begin() as conn:
        apply_signer_event(conn, SignerEvent("IN", KEY.address, 5, True, pos))
        apply_signer_event(conn, SignerEvent("IN", KEY.address, 5, True, pos))  # idempotent
        signers = load_signers(conn)
        assert signers.active("IN", KEY.address.lower(), 5)
        assert not signers.active("IN", KEY.address, 4)
        assert not signers.active("BR", KEY.address, 6)
        apply_signer_event(conn, SignerEvent("IN", KEY.address, 9, False, pos))
        signers = load_signers(conn)
        assert signers.active("IN", KEY.address, 8)
        assert not signers.active("IN", KEY.address, 9)
        assert read_cursor(conn) is None
        write_cursor(
            conn,
            block_number=7,
            block_hash=b"\x07" * 32,
            seen=[(n, bytes([n]) * 32) for n in range(8)],
            keep=3,
        )
        assert read_cursor(conn) == (7, b"\x07" * 32)
    with db.factory() as s:
        assert [b.number for b in s.scalars(select(SeenBlock).order_by(SeenBlock.number))] == [5, 6, 7]
        assert s.get(SignerKey, ("IN", KEY.address)).revoked_at == 9


def test_quarantine_and_block(db, ledger):
    event = ledger.event("IN", [(A, Kind.STOLEN)], tamper_root=True)
    with db.engine.begin() as conn:
        assert quarantine_batch(conn, event, state=REJECTED, reason="bad root", detected_at=1)
        assert not quarantine_batch(conn, event, state=REJECTED, reason="bad root", detected_at=2)
        block_country(conn, country="IN", seq=1)
        assert load_country_states(conn)["IN"].blocked_seq == 1
    with db.factory() as s:
        q = s.get(QuarantinedBatch, ("IN", 1))
        assert q.state == "rejected"
        assert q.records == event.records
        header = unpack_header(q.header)
        assert header["merkle_root"] == b"\x99" * 32
        assert header["signer"].lower() == KEY.address.lower()
        assert header["signature"] == event.signature
        assert s.scalar(select(func.count()).select_from(LedgerRecord)) == 0


def test_rewind_undoes_batches_above_a_block(db, ledger):
    ledger.publish("IN", [(A, Kind.STOLEN), (B, Kind.STOLEN)])  # block 11
    fork = ledger.block
    ledger.publish("KE", [(A, Kind.LOST)])  # block 12
    ledger.publish("IN", [(A, Kind.RECOVERED), (C, Kind.DUPLICATED)])  # block 13
    q = ledger.event("BR", [(C, Kind.STOLEN)])  # block 14: quarantined
    with db.engine.begin() as conn:
        quarantine_batch(conn, q, state=REJECTED, reason="x", detected_at=1)
        block_country(conn, country="BR", seq=1)
        apply_signer_event(conn, SignerEvent("IN", KEY.address, 3, True, q.position))
        apply_signer_event(conn, SignerEvent("KE", KEY.address, 13, True, q.position))
        apply_signer_event(conn, SignerEvent("IN", KEY.address, 14, False, q.position))
        write_cursor(
            conn, block_number=14, block_hash=b"\x0e" * 32, seen=[(11, b"a" * 32), (14, b"b" * 32)], keep=10
        )
    assert status_of(db, A) == (BLACKLISTED, "KE")
    assert status_of(db, C) == (GREYLISTED, "IN")
    before = statuses(db)
    with db.engine.begin() as conn:
        result = rewind_above(conn, block=fork, policy=POLICY)
        states = load_country_states(conn)
        signers = load_signers(conn)
    assert (result.batches, result.records, result.quarantined) == (2, 3, 1)
    assert status_of(db, A) == (BLACKLISTED, "IN")
    assert status_of(db, B) == (BLACKLISTED, "IN")
    assert status_of(db, C) == (WHITELISTED, "")
    after = statuses(db)
    assert after[A][2] > max(x[2] for x in before.values())
    assert states["IN"].last_seq == 1
    assert states["KE"].last_seq == 0
    assert states["KE"].head == ZERO_HASH
    assert states["BR"].blocked_seq is None
    assert signers.active("IN", KEY.address, 100)  # revocation at 14 undone
    assert not signers.active("KE", KEY.address, 100)  # addition at 13 undone
    assert entry(db, A, "IN")[0] == Kind.STOLEN
    assert entry(db, A, "KE") is None
    assert entry(db, C, "IN") is None
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(LedgerRecord)) == 2
        assert s.scalar(select(func.count()).select_from(QuarantinedBatch)) == 0
        assert [b.number for b in s.scalars(select(SeenBlock))] == [11]


# ---------------------------------------------------------------------------- lookup, explain, history


def settings(tmp_path: Path, honours: list[str]) -> GatewaySettings:
    return GatewaySettings(country="IN", ledger_address=LEDGER, data_dir=tmp_path, honours=honours)


def test_status_lookup_reads_committed_statuses(db, ledger):
    lookup = StatusLookup(db.engine)
    assert lookup.status(A) == (WHITELISTED, "")
    ledger.publish("IN", [(A, Kind.STOLEN), (B, Kind.DUPLICATED)])
    assert lookup.status(A) == (BLACKLISTED, "IN")
    assert lookup.status_name(B) == "GREYLISTED"
    ledger.publish("BR", [(A, Kind.LOST)])
    assert lookup.status(A) == (BLACKLISTED, "BR,IN")
    results: list[tuple[int, str]] = []
    threads = [threading.Thread(target=lambda: results.append(lookup.status(A))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(BLACKLISTED, "BR,IN")] * 8
    lookup.close()


def test_status_lookup_device_reads_status_and_latest_entries_together(db, ledger):
    lookup = StatusLookup(db.engine)
    ledger.publish("IN", [(A, Kind.STOLEN), (B, Kind.STOLEN), (C, Kind.DUPLICATED)])
    ledger.publish("KE", [(A, Kind.LOST), (A, Kind.RECOVERED)])  # KE's latest entry for A: RECOVERED
    ledger.publish("BR", [(A, Kind.DUPLICATED)])
    ledger.publish("IN", [(B, Kind.RECOVERED)])  # B listed once, now cleared: a WHITELISTED row
    for imei in (A, B, C, "35000000000009"):
        status, origins = lookup.status(imei)
        expected = (status, origins, lookup.entries(imei) if status != WHITELISTED else [])
        assert lookup.device(imei) == expected
    assert lookup.device(A) == (BLACKLISTED, "IN", [("BR", Kind.DUPLICATED), ("IN", Kind.STOLEN),
                                                    ("KE", Kind.RECOVERED)])  # fmt: skip
    assert lookup.device(B) == (WHITELISTED, "", [])
    lookup.close()


def test_status_lookup_on_an_in_memory_database():
    from gateway.db.engine import make_engine
    from gateway.db.models import Base

    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO device_status VALUES ('35000000000001', 2, 'IN', 1)")
    lookup = StatusLookup(engine)
    assert lookup.status(A) == (BLACKLISTED, "IN")
    assert lookup.status(B) == (WHITELISTED, "")


def test_explain_lists_contributing_and_other_entries(db, ledger, tmp_path):
    ledger.publish("IN", [(A, Kind.STOLEN)])
    ledger.publish("BR", [(A, Kind.DUPLICATED)])
    ledger.publish("DE", [(A, Kind.LOST)])
    ledger.publish("KE", [(A, Kind.RECOVERED)])
    cfg = settings(tmp_path, ["IN", "BR", "KE"])
    with db.factory() as s:
        ex = explain(s, imei=imei15(A), settings=cfg)
    assert ex.imei == A
    assert ex.status == "BLACKLISTED"
    assert ex.origins == ["IN"]
    assert [(e.country, e.kind, e.seq, e.index) for e in ex.contributing] == [("IN", "STOLEN", 1, 0)]
    assert ex.contributing[0].signer == KEY.address
    assert ex.contributing[0].block_number == 11
    notes = {e.country: e.note for e in ex.other_entries}
    assert "outranked" in notes["BR"]
    assert "not honoured" in notes["DE"]
    assert "cleared" in notes["KE"]
    assert ex.stored_status == "BLACKLISTED"
    assert ex.consistent
    with db.factory() as s:
        unlisted = explain(s, imei=B, settings=cfg)
    assert (unlisted.status, unlisted.stored_status, unlisted.contributing) == ("WHITELISTED", None, [])
    assert unlisted.consistent


def test_history_in_chain_order_with_valid_proofs(db, ledger):
    filler = [(f"3500000000{i:04d}", Kind.LOST) for i in range(100, 110)]
    v1 = ledger.publish("IN", [*filler[:3], (A, Kind.STOLEN), *filler[3:]])
    ledger.publish("DE", [(B, Kind.STOLEN)])
    v3 = ledger.publish("KE", [(A, Kind.DUPLICATED), *filler])
    v4 = ledger.publish("IN", [(A, Kind.RECOVERED)])
    with db.factory() as s:
        items = device_history(s, imei=A)
    assert [(i.country, i.seq, i.index, i.kind) for i in items] == [
        ("IN", 1, 3, "STOLEN"),
        ("KE", 1, 0, "DUPLICATED"),
        ("IN", 2, 0, "RECOVERED"),
    ]
    for item, v in zip(items, [v1, v3, v4], strict=True):
        assert item.proof_valid
        assert item.merkle_root == "0x" + v.event.merkle_root.hex()
        record = bytes.fromhex(item.record[2:])
        assert record == v.event.records[item.index * 16 : item.index * 16 + 16]
        proof = [bytes.fromhex(p[2:]) for p in item.proof]
        assert verify_record(record, item.index, proof, v.event.merkle_root)
        assert item.tx_hash == "0x" + v.event.position.tx_hash.hex()
    assert items[2].proof == []  # one-record batch: the root is the leaf


def test_history_flags_an_index_row_that_disagrees_with_its_record(db, ledger):
    ledger.publish("IN", [(A, Kind.STOLEN), (B, Kind.STOLEN)])
    db.execute(f"UPDATE ledger_records SET kind = 2 WHERE imei = '{B}'")
    with db.factory() as s:
        tampered, untouched = device_history(s, imei=B), device_history(s, imei=A)
    assert [i.proof_valid for i in tampered] == [False]
    assert [i.proof_valid for i in untouched] == [True]


def test_history_flags_a_tampered_stored_batch(db, ledger):
    v = ledger.publish("IN", [(A, Kind.STOLEN), (B, Kind.STOLEN)])
    altered = bytearray(v.event.records)
    altered[20] ^= 1  # a byte of B's record: A's own bytes are intact, the batch's root is not
    with db.engine.begin() as conn:
        conn.execute(
            update(LedgerBatch).where(LedgerBatch.country == "IN", LedgerBatch.seq == 1)
            .values(records=bytes(altered))
        )  # fmt: skip
    with db.factory() as s:
        items = device_history(s, imei=A)
    assert len(items) == 1
    assert not items[0].proof_valid


# ----------------------------------------------------------------------------- bulk = one by one

_POOL = [f"3500000000{n:04d}" for n in range(12)]  # few IMEIs: they collide across batches
_BATCHES = st.lists(
    st.tuples(
        st.sampled_from(["IN", "BR", "KE", "DE"]),
        st.lists(st.tuples(st.sampled_from(_POOL), st.sampled_from(list(Kind))), min_size=1, max_size=6),
    ),
    min_size=1,
    max_size=12,
)


def _store(db) -> tuple[dict[str, tuple[int, str]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    with db.engine.connect() as conn:
        records = [
            tuple(r) for r in conn.execute(select(LedgerRecord).order_by(*LedgerRecord.__table__.primary_key))
        ]
        logs = [tuple(r) for r in conn.execute(select(CountryLog.__table__).order_by(CountryLog.country))]
    # A WHITELISTED row and no row answer alike. They differ only for an IMEI listed and cleared
    # between two commits: applied one by one the feed showed it listed, so its row stays.
    listed = {imei: row[:2] for imei, row in statuses(db).items() if row[0] != WHITELISTED}
    return listed, records, logs


def _wipe(db) -> None:
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_BATCHES, flush_records=st.integers(min_value=1, max_value=20))
def test_a_writer_over_many_batches_ends_where_batch_by_batch_ends(db, batches, flush_records):
    """Records buffered across batches and flushed in bulk (sorted, each touched IMEI folded once
    per flush, a flush now and then when ``flush_records`` rows wait) leave the same records,
    statuses and country logs as applying the batches one at a time."""
    _wipe(db)
    one_by_one = Ledger(db.engine)
    events = []
    for cc, entries in batches:
        events.append(one_by_one.event(cc, entries))
        with db.engine.begin() as conn:
            apply_batch(conn, one_by_one.verified(events[-1]), policy=POLICY)
    expected = _store(db)
    _wipe(db)
    bulk = Ledger(db.engine)
    with db.engine.begin() as conn:
        writer = BatchWriter(conn, policy=POLICY, flush_records=flush_records)
        for event in events:
            writer.add(bulk.verified(event))
        writer.flush()
    assert _store(db) == expected
