"""Batch header, EIP-712 hashes (checked against eth-account) and signer recovery."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_node.batch import (
    BATCH_TYPEHASH,
    MAX_BATCH_RECORDS,
    ZERO_HASH,
    Batch,
    country_bytes,
    digest,
    domain_separator,
    recover_signer,
    struct_hash,
    to_abi_tuple,
    typed_data,
)
from ledger_node.errors import (
    BatchFormatError,
    CrossBlockError,
    InvalidCountryError,
    RecordFormatError,
    SignatureError,
)
from ledger_node.merkle import merkle_root_packed
from ledger_node.record import Kind, Record, pack_records
from ledger_node.signer import LocalSigner, sign_batch

KEY = "0x" + "00" * 31 + "01"
SIGNER = LocalSigner(KEY)
CHAIN_ID = 31337
LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

hashes = st.binary(min_size=32, max_size=32)
batches = st.builds(
    Batch,
    country=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    seq=st.integers(0, 2**64 - 1),
    prev_head=hashes,
    records_hash=hashes,
    merkle_root=hashes,
    count=st.integers(0, 2**32 - 1),
)


def records(n: int) -> bytes:
    return pack_records(Record(f"{i:014d}", Kind.STOLEN, i, b"abcd") for i in range(n))


def eth_account_digest(batch: Batch, chain_id: int, contract: str) -> bytes:
    message = encode_typed_data(full_message=typed_data(batch, chain_id, contract))
    return keccak(b"\x19" + message.version + message.header + message.body)


def test_typehash() -> None:
    batch_type = (
        b"Batch(bytes2 country,uint64 seq,bytes32 prevHead,bytes32 recordsHash,"
        b"bytes32 merkleRoot,uint32 count)"
    )
    assert keccak(batch_type) == BATCH_TYPEHASH


@settings(max_examples=60, deadline=None)
@given(batches, st.integers(1, 2**64), st.binary(min_size=20, max_size=20))
def test_hashes_equal_eth_account_encode_typed_data(batch: Batch, chain_id: int, raw_address: bytes) -> None:
    contract = "0x" + raw_address.hex()
    message = encode_typed_data(full_message=typed_data(batch, chain_id, contract))
    assert message.header == domain_separator(chain_id, contract)
    assert message.body == struct_hash(batch) == batch.head
    assert eth_account_digest(batch, chain_id, contract) == digest(batch, chain_id, contract)


def test_struct_hash_is_abi_encoding() -> None:
    batch = Batch("IN", 1, ZERO_HASH, b"\x01" * 32, b"\x02" * 32, 3)
    encoded = encode(
        ["bytes32", "bytes2", "uint64", "bytes32", "bytes32", "bytes32", "uint32"],
        [BATCH_TYPEHASH, b"IN", 1, ZERO_HASH, b"\x01" * 32, b"\x02" * 32, 3],
    )
    assert encoded[32:64] == b"IN" + bytes(30)  # bytesN is left-aligned
    assert struct_hash(batch) == keccak(encoded)


def test_build_computes_hashes_and_chains() -> None:
    data = records(5)
    first = Batch.build("IN", 1, ZERO_HASH, data)
    assert first.records_hash == keccak(data)
    assert first.merkle_root == merkle_root_packed(data)
    assert first.count == 5
    second = first.next(records(2))
    assert (second.country, second.seq, second.prev_head) == ("IN", 2, first.head)
    assert to_abi_tuple(first) == (b"IN", 1, ZERO_HASH, keccak(data), first.merkle_root, 5)


def test_build_rejects_bad_sizes() -> None:
    with pytest.raises(BatchFormatError, match="at least one record"):
        Batch.build("IN", 1, ZERO_HASH, b"")
    with pytest.raises(RecordFormatError, match="multiple of 16, got 17"):
        Batch.build("IN", 1, ZERO_HASH, bytes(17))
    with pytest.raises(BatchFormatError, match=f"at most {MAX_BATCH_RECORDS} records, got 10001"):
        Batch.build("IN", 1, ZERO_HASH, records(MAX_BATCH_RECORDS + 1))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seq": -1}, "seq must be an integer in 0..18446744073709551615, got -1"),
        ({"seq": 2**64}, "seq must be an integer"),
        ({"seq": True}, "seq must be an integer"),
        ({"count": 2**32}, "count must be an integer in 0..4294967295"),
        ({"prev_head": bytes(31)}, "prev_head must be 32 bytes"),
        ({"records_hash": "00" * 32}, "records_hash must be 32 bytes"),
        ({"merkle_root": None}, "merkle_root must be 32 bytes, got None"),
    ],
)
def test_batch_field_ranges(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "country": "IN",
        "seq": 1,
        "prev_head": ZERO_HASH,
        "records_hash": ZERO_HASH,
        "merkle_root": ZERO_HASH,
        "count": 1,
    }
    fields.update(changes)
    with pytest.raises(BatchFormatError) as info:
        Batch(**fields)  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize("cc", ["in", "In", "IND", "I", "", "I1", "ÉS", "I N", 49])
def test_country_codes(cc: object) -> None:
    with pytest.raises(InvalidCountryError) as info:
        country_bytes(cc)  # type: ignore[arg-type]
    assert info.value.value == cc
    assert isinstance(info.value, CrossBlockError)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidCountryError):
        Batch(cc, 1, ZERO_HASH, ZERO_HASH, ZERO_HASH, 1)  # type: ignore[arg-type]


def test_country_bytes_valid() -> None:
    assert country_bytes("IN") == b"IN" == bytes.fromhex("494e")
    assert country_bytes("BR") == b"BR"


@settings(max_examples=25, deadline=None)
@given(batches)
def test_sign_and_recover(batch: Batch) -> None:
    signature = sign_batch(SIGNER, batch, CHAIN_ID, LEDGER)
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert int.from_bytes(signature[32:64], "big") <= N // 2
    assert recover_signer(batch, signature, CHAIN_ID, LEDGER) == SIGNER.address
    expected = Account.from_key(KEY).unsafe_sign_hash(digest(batch, CHAIN_ID, LEDGER)).signature
    assert signature == bytes(expected)
    other_chain = recover_signer(batch, signature, CHAIN_ID + 1, LEDGER)
    assert other_chain != SIGNER.address


def test_recover_rejects_malformed_signatures() -> None:
    batch = Batch.build("IN", 1, ZERO_HASH, records(3))
    good = sign_batch(SIGNER, batch, CHAIN_ID, LEDGER)
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    cases = [
        (good[:64], "65 bytes (r || s || v), got 64"),
        (good + b"\x00", "got 66"),
        ("0x" + good.hex(), "got str"),
        (good[:64] + bytes([v - 27]), f"v must be 27 or 28, got {v - 27}"),
        (good[:64] + bytes([29]), "v must be 27 or 28, got 29"),
        (bytes(32) + good[32:], "r is out of range"),
        (N.to_bytes(32, "big") + good[32:], "r is out of range"),
        (r + bytes(32) + bytes([v]), "s is zero or in the upper half"),
        (r + (N - s).to_bytes(32, "big") + bytes([55 - v]), "s is zero or in the upper half"),
    ]
    for signature, message in cases:
        with pytest.raises(SignatureError) as info:
            recover_signer(batch, signature, CHAIN_ID, LEDGER)  # type: ignore[arg-type]
        assert message in str(info.value), signature
    # r that is not the x of a curve point: no key recoverable
    with pytest.raises(SignatureError):
        recover_signer(batch, (5).to_bytes(32, "big") + good[32:], CHAIN_ID, LEDGER)


def test_domain_rejects_bad_inputs() -> None:
    with pytest.raises(SignatureError, match="not an address"):
        domain_separator(CHAIN_ID, "0x1234")
    with pytest.raises(SignatureError, match="chain_id"):
        domain_separator(-1, LEDGER)
    assert domain_separator(CHAIN_ID, LEDGER.lower()) == domain_separator(CHAIN_ID, LEDGER)
