"""verify_batch: a valid batch passes; each broken property is rejected with its own code."""

from __future__ import annotations

import dataclasses
import os

import pytest

from gateway.errors import BatchVerificationError, GatewayError
from gateway.services.verify import merkle_root_of, verify_batch
from ledger_node.batch import ZERO_HASH, Batch
from ledger_node.events import BatchEvent, LogPosition
from ledger_node.hashing import keccak256
from ledger_node.merkle import merkle_root_packed
from ledger_node.record import Kind, Record, pack_records
from ledger_node.signer import LocalSigner, sign_batch

CHAIN_ID = 31337
LEDGER = "0x" + "ab" * 20
KEY = LocalSigner(bytes.fromhex("11" * 32))
OTHER_KEY = LocalSigner(bytes.fromhex("22" * 32))
BLOCK = 100


def records(n: int = 5, kind: Kind = Kind.STOLEN) -> bytes:
    return pack_records(
        Record(f"{35_000_000_000_000 + i:014d}", kind, 1_760_000_000 + i, os.urandom(4)) for i in range(n)
    )


def event_of(
    batch: Batch,
    recs: bytes,
    *,
    signer: LocalSigner = KEY,
    named_signer: str | None = None,
    block: int = BLOCK,
    chain_id: int = CHAIN_ID,
    signature: bytes | None = None,
) -> BatchEvent:
    sig = signature if signature is not None else sign_batch(signer, batch, chain_id, LEDGER)
    return BatchEvent(
        country=batch.country,
        seq=batch.seq,
        signer=named_signer or signer.address,
        prev_head=batch.prev_head,
        records_hash=batch.records_hash,
        merkle_root=batch.merkle_root,
        count=batch.count,
        signature=sig,
        records=recs,
        position=LogPosition(block_number=block, block_hash=b"\x01" * 32, tx_hash=b"\x02" * 32, log_index=0),
    )


def active_key(country: str, signer: str, block: int) -> bool:
    """KEY is active for IN from block 10 to block 200 (revoked at 200)."""
    return country == "IN" and signer.lower() == KEY.address.lower() and 10 <= block < 200


def verify(event: BatchEvent, *, seq: int = 1, prev: bytes = ZERO_HASH, **kw: object):
    return verify_batch(
        event,
        expected_seq=seq,
        expected_prev_head=prev,
        chain_id=CHAIN_ID,
        ledger_address=LEDGER,
        signer_active=kw.pop("signer_active", active_key),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def rejected(event: BatchEvent, code: str, **kw: object) -> BatchVerificationError:
    with pytest.raises(BatchVerificationError) as info:
        verify(event, **kw)
    assert info.value.code == code, info.value.reason
    assert info.value.country == event.country
    assert info.value.seq == event.seq
    assert f"{event.country}#{event.seq}" in str(info.value)
    return info.value


def test_valid_batch_passes_with_head_and_decoded_records():
    recs = records(7)
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    verified = verify(event_of(batch, recs))
    assert verified.head == batch.head
    assert verified.country == "IN"
    assert verified.seq == 1
    assert verified.count == 7
    assert len(verified.records) == 7
    type_kind, ident, at, commitment = verified.records[3]
    assert type_kind == 0x11
    assert ident == "35000000000003"
    assert at == 1_760_000_003
    assert commitment == recs[3 * 16 + 12 : 3 * 16 + 16]


def test_second_batch_chains_to_first_head():
    first = Batch.build("IN", 1, ZERO_HASH, records(2))
    recs = records(3)
    second = first.next(recs)
    verified = verify(event_of(second, recs), seq=2, prev=first.head)
    assert verified.head == second.head


def test_error_is_a_gateway_error():
    assert issubclass(BatchVerificationError, GatewayError)


def test_seq_gap_and_replay():
    recs = records()
    batch = Batch.build("IN", 3, ZERO_HASH, recs)
    err = rejected(event_of(batch, recs), "seq-gap", seq=2)
    assert "gap" in err.reason
    assert "expected seq 2, got 3" in err.reason
    err = rejected(event_of(batch, recs), "seq-gap", seq=4)
    assert "replay" in err.reason


def test_prev_head_must_equal_stored_head():
    recs = records()
    batch = Batch.build("IN", 2, b"\x07" * 32, recs)
    err = rejected(event_of(batch, recs), "head-mismatch", seq=2, prev=b"\x08" * 32)
    assert "head chain" in err.reason


def test_records_altered_after_signing_fail_records_hash():
    recs = records()
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    tampered = bytearray(recs)
    tampered[16 + 3] ^= 0x01  # one nibble of record 1's IMEI
    rejected(event_of(batch, bytes(tampered)), "records-hash")


def test_records_length_must_be_16_times_count():
    recs = records(4)
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    short = recs[:-16]
    rejected(event_of(batch, short), "records-length")
    rejected(event_of(batch, recs + b"\x00"), "records-length")
    zero = dataclasses.replace(batch, count=0)
    rejected(event_of(zero, b""), "records-length")


def test_malformed_record_is_rejected():
    recs = bytearray(records(3))
    recs[32] = 0x17  # record 2: IMEI type, kind 7 (no such kind)
    recs = bytes(recs)
    batch = Batch("IN", 1, ZERO_HASH, keccak256(recs), merkle_root_packed(recs), 3)
    err = rejected(event_of(batch, recs), "malformed-record")
    assert "record 2" in err.reason


def test_signed_merkle_root_must_match_records():
    recs = records(5)
    honest = Batch.build("IN", 1, ZERO_HASH, recs)
    lying = dataclasses.replace(honest, merkle_root=b"\x42" * 32)
    err = rejected(event_of(lying, recs), "merkle-root")
    assert "0x" + ("42" * 32) in err.reason


def test_precomputed_merkle_root_is_used():
    recs = records(5)
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    assert merkle_root_of(recs) == batch.merkle_root
    assert merkle_root_of(recs[:-1]) is None
    assert merkle_root_of(b"") is None
    verify(event_of(batch, recs), merkle_root=batch.merkle_root)
    rejected(event_of(batch, recs), "merkle-root", merkle_root=b"\x00" * 32)


def test_signature_from_another_key_than_the_named_signer():
    recs = records()
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    event = event_of(batch, recs, signer=OTHER_KEY, named_signer=KEY.address)
    err = rejected(event, "signer-mismatch")
    assert OTHER_KEY.address in err.reason


def test_signature_for_another_domain_recovers_another_address():
    recs = records()
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    rejected(event_of(batch, recs, chain_id=1), "signer-mismatch")


def test_signature_over_another_header_recovers_another_address():
    recs = records()
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    other = Batch.build("IN", 1, ZERO_HASH, records(2))
    sig = sign_batch(KEY, other, CHAIN_ID, LEDGER)
    rejected(event_of(batch, recs, signature=sig), "signer-mismatch")


def test_malformed_signature():
    recs = records()
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    good = sign_batch(KEY, batch, CHAIN_ID, LEDGER)
    rejected(event_of(batch, recs, signature=good[:64] + bytes([29])), "bad-signature")
    rejected(event_of(batch, recs, signature=good[:64]), "bad-signature")


@pytest.mark.parametrize("block", [9, 200, 500])
def test_signer_not_active_at_the_block(block: int):
    recs = records()
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    err = rejected(event_of(batch, recs, block=block), "signer-not-active")
    assert f"block {block}" in err.reason


@pytest.mark.parametrize("block", [10, 199])
def test_signer_active_interval_bounds(block: int):
    recs = records()
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    verify(event_of(batch, recs, block=block))


def test_key_of_another_country_is_not_active():
    recs = records()
    batch = Batch.build("BR", 1, ZERO_HASH, recs)
    rejected(event_of(batch, recs), "signer-not-active")


def test_cheap_checks_run_before_the_signature():
    recs = records()
    batch = Batch.build("IN", 1, ZERO_HASH, recs)
    calls: list[tuple[str, str, int]] = []

    def spy(country: str, signer: str, block: int) -> bool:
        calls.append((country, signer, block))
        return True

    rejected(event_of(batch, recs + b"x" * 16), "records-length", signer_active=spy)
    assert calls == []
    verify(event_of(batch, recs), signer_active=spy)
    assert calls == [("IN", KEY.address, BLOCK)]
