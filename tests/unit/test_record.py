"""The 16-byte record codec."""

from __future__ import annotations

import struct

import pytest
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger_node.errors import RecordFormatError
from ledger_node.record import (
    RECORD_SIZE,
    IdType,
    Kind,
    Record,
    case_commitment,
    decode_records,
    iter_records,
    new_salt,
    pack_records,
    valid_type_kinds,
)

SALT = bytes(range(32))

imei_records = st.builds(
    Record,
    identifier=st.text(alphabet="0123456789", min_size=14, max_size=14),
    kind=st.sampled_from(Kind),
    reported_at=st.integers(min_value=0, max_value=2**32 - 1),
    case_commitment=st.binary(min_size=4, max_size=4),
)
meid_records = st.builds(
    Record,
    identifier=st.text(alphabet="0123456789abcdef", min_size=14, max_size=14),
    kind=st.sampled_from(Kind),
    reported_at=st.integers(min_value=0, max_value=2**32 - 1),
    case_commitment=st.binary(min_size=4, max_size=4),
    id_type=st.just(IdType.MEID),
)
records = st.one_of(imei_records, meid_records)


def test_enum_values_match_the_spec() -> None:
    assert [(k.name, int(k)) for k in Kind] == [
        ("STOLEN", 1),
        ("LOST", 2),
        ("RECOVERED", 3),
        ("DUPLICATED", 4),
        ("INVALID", 5),
        ("WITHDRAWN", 6),
    ]
    assert (int(IdType.IMEI), int(IdType.MEID)) == (1, 2)
    assert RECORD_SIZE == 16
    assert valid_type_kinds() == {t << 4 | k for t in (1, 2) for k in range(1, 7)}


def test_layout_byte_for_byte() -> None:
    record = Record("49015420323751", Kind.STOLEN, 1_700_000_000, b"\xde\xad\xbe\xef")
    packed = record.pack()
    assert packed == bytes.fromhex("11490154203237516553f100deadbeef")
    assert len(packed) == RECORD_SIZE
    assert Record.unpack(packed) == record


@given(records)
def test_pack_unpack_roundtrip(record: Record) -> None:
    packed = record.pack()
    assert len(packed) == RECORD_SIZE
    assert Record.unpack(packed) == record
    assert packed[0] == record.id_type << 4 | record.kind
    assert packed[1:8].hex() == record.identifier
    assert int.from_bytes(packed[8:12], "big") == record.reported_at
    assert packed[12:16] == record.case_commitment


@given(st.lists(records, max_size=40))
def test_bulk_decode_matches_records(batch: list[Record]) -> None:
    data = pack_records(batch)
    assert len(data) == RECORD_SIZE * len(batch)
    decoded = decode_records(data)
    assert decoded == [(r.type_kind, r.identifier, r.reported_at, r.case_commitment) for r in batch]
    assert list(iter_records(data)) == batch
    assert decode_records(bytearray(data)) == decoded
    assert decode_records(memoryview(data)) == decoded


def test_fields_are_normalized() -> None:
    record = Record("A0000000002329", 2, 5, b"abcd", 2)  # type: ignore[arg-type]
    assert record.kind is Kind.LOST
    assert record.id_type is IdType.MEID
    assert record.identifier == "a0000000002329"
    assert Record.unpack(record.pack()) == record


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": 0}, "kind must be 1..6, got 0"),
        ({"kind": 7}, "kind must be 1..6, got 7"),
        ({"kind": True}, "kind must be 1..6, got True"),
        ({"kind": "1"}, "kind must be 1..6, got '1'"),
        ({"id_type": 3}, "id_type must be 1 (IMEI) or 2 (MEID), got 3"),
        ({"reported_at": -1}, "reported_at must be a uint32 (0..4294967295), got -1"),
        ({"reported_at": 2**32}, "reported_at must be a uint32 (0..4294967295), got 4294967296"),
        ({"reported_at": 1.0}, "reported_at must be a uint32"),
        ({"identifier": "4901542032375"}, "identifier must be 14 characters, got '4901542032375'"),
        ({"identifier": "490154203237518"}, "identifier must be 14 characters"),
        (
            {"identifier": "4901542032375a"},
            "an IMEI identifier must be 14 decimal digits, got '4901542032375a'",
        ),
        ({"identifier": "g000000000000z", "id_type": 2}, "an MEID identifier must be 14 hex digits"),
        ({"case_commitment": b"abc"}, "case_commitment must be 4 bytes, got b'abc'"),
        ({"case_commitment": "abcd"}, "case_commitment must be 4 bytes, got 'abcd'"),
    ],
)
def test_bad_fields_raise(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "identifier": "49015420323751",
        "kind": Kind.STOLEN,
        "reported_at": 0,
        "case_commitment": b"abcd",
    }
    fields.update(changes)
    with pytest.raises(RecordFormatError) as info:
        Record(**fields)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_records_are_frozen() -> None:
    record = Record("49015420323751", Kind.STOLEN, 0, b"abcd")
    with pytest.raises(AttributeError):
        record.kind = Kind.LOST  # type: ignore[misc]


@pytest.mark.parametrize(
    ("type_kind", "problem"),
    [
        (0x10, "bad kind 0 (expected 1..6)"),
        (0x17, "bad kind 7 (expected 1..6)"),
        (0x01, "bad identifier type 0 (expected 1 IMEI or 2 MEID)"),
        (0x31, "bad identifier type 3"),
        (0xFF, "bad identifier type 15 (expected 1 IMEI or 2 MEID) and bad kind 15"),
    ],
)
def test_bad_type_kind_names_index_and_byte(type_kind: int, problem: str) -> None:
    good = [Record(f"{i:014d}", Kind.STOLEN, i, b"abcd").pack() for i in range(5)]
    single = bytes([type_kind]) + good[0][1:]
    with pytest.raises(RecordFormatError, match=f"typeKind 0x{type_kind:02x}: "):
        Record.unpack(single)
    data = b"".join([*good[:3], single, good[4]])
    with pytest.raises(RecordFormatError) as info:
        decode_records(data)
    assert str(info.value).startswith(f"record 3: typeKind 0x{type_kind:02x}: ")
    assert problem in str(info.value)
    with pytest.raises(RecordFormatError, match="record 3: "):
        list(iter_records(data))


def test_length_must_be_a_multiple_of_16() -> None:
    data = Record("49015420323751", Kind.STOLEN, 0, b"abcd").pack()
    for bad in (data[:15], data + b"\x00"):
        with pytest.raises(RecordFormatError, match=f"a record is 16 bytes, got {len(bad)}"):
            Record.unpack(bad)
    with pytest.raises(RecordFormatError, match=r"multiple of 16, got 33 \(2 records and 1 extra bytes\)"):
        decode_records(data * 2 + b"\x00")
    with pytest.raises(RecordFormatError, match="multiple of 16"):
        list(iter_records(data[:-1]))
    assert decode_records(b"") == []


def test_bulk_decoder_accepts_what_the_contract_accepts() -> None:
    # The contract checks only typeKind: an IMEI-typed record with hex nibbles is accepted on chain,
    # so the bulk decoder must not reject it (a gateway would stall on a valid batch) ...
    odd = struct.pack(">B7sI4s", 0x11, bytes.fromhex("4901542032375a"), 0, b"abcd")
    assert decode_records(odd) == [(0x11, "4901542032375a", 0, b"abcd")]
    # ... while the strict modes say exactly what is wrong with it.
    with pytest.raises(RecordFormatError, match="record 0: IMEI identifier '4901542032375a'"):
        decode_records(odd, strict=True)
    with pytest.raises(RecordFormatError, match="an IMEI identifier must be 14 decimal digits"):
        Record.unpack(odd)
    meid = Record("a000000000232f", Kind.STOLEN, 0, b"abcd", IdType.MEID).pack()
    assert decode_records(meid + meid, strict=True)[1][1] == "a000000000232f"


def test_case_commitment() -> None:
    expected = keccak(SALT + b"IN-DL-2023-000001")[:4]
    assert case_commitment(SALT, "IN-DL-2023-000001") == expected
    assert case_commitment(SALT, "Fälle/№ 7") == keccak(SALT + "Fälle/№ 7".encode())[:4]
    assert case_commitment(SALT, "a") != case_commitment(bytes(32), "a")
    for bad in (b"", bytes(31), bytes(33)):
        with pytest.raises(RecordFormatError, match=f"salt must be 32 bytes, got {len(bad)}"):
            case_commitment(bad, "x")
    with pytest.raises(RecordFormatError, match="salt must be 32 bytes, got str"):
        case_commitment("00" * 32, "x")  # type: ignore[arg-type]


def test_new_salt_is_random_32_bytes() -> None:
    salts = {new_salt() for _ in range(20)}
    assert len(salts) == 20
    assert all(len(s) == 32 for s in salts)
