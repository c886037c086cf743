"""The 16-byte record codec (docs/record-format.md, "Record: 16 bytes").

    offset 0  1 byte   typeKind      high nibble identifier type, low nibble kind
    offset 1  7 bytes  identifier    14 nibbles packed BCD (the hex form *is* the IMEI core)
    offset 8  4 bytes  reportedAt    uint32 big-endian Unix seconds
    offset 12 4 bytes  caseCommitment first 4 bytes of keccak256(salt32 || utf8(caseRef))

Two decoding paths:

* :class:`Record` / :meth:`Record.unpack` / :func:`iter_records`: typed objects, every field
  validated (an IMEI identifier must be 14 *decimal* digits).
* :func:`decode_records`: the bulk path for syncing whole batches, one ``struct.iter_unpack`` and one
  ``bytes.hex()`` per record, returning plain tuples. It validates exactly what the contract validates
  (the ``typeKind`` byte), so it never rejects a batch the chain accepted.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum

from ledger_node.errors import RecordFormatError
from ledger_node.hashing import keccak256

__all__ = [
    "COMMITMENT_SIZE",
    "RECORD_SIZE",
    "SALT_SIZE",
    "UINT32_MAX",
    "DecodedRecord",
    "IdType",
    "Kind",
    "Record",
    "case_commitment",
    "check_type_kinds",
    "decode_records",
    "iter_records",
    "new_salt",
    "pack_records",
    "valid_type_kinds",
]

RECORD_SIZE = 16
IDENTIFIER_SIZE = 7
IDENTIFIER_CHARS = 2 * IDENTIFIER_SIZE
COMMITMENT_SIZE = 4
SALT_SIZE = 32
UINT32_MAX = 2**32 - 1

_STRUCT = struct.Struct(">B7sI4s")
_HEX_DIGITS = frozenset("0123456789abcdef")


class Kind(IntEnum):
    """What happened to the device (low nibble of ``typeKind``)."""

    STOLEN = 1
    LOST = 2
    RECOVERED = 3
    DUPLICATED = 4
    INVALID = 5
    WITHDRAWN = 6


class IdType(IntEnum):
    """Identifier type (high nibble of ``typeKind``). MEID is reserved: same 7-byte layout, hex."""

    IMEI = 1
    MEID = 2


def valid_type_kinds() -> frozenset[int]:
    """Every ``typeKind`` byte the contract accepts: type 1..2 in the high nibble, kind 1..6 low."""
    return frozenset((t << 4) | k for t in IdType for k in Kind)


_VALID_TYPE_KINDS = valid_type_kinds()
_KIND_BY_VALUE: dict[int, Kind] = {int(k): k for k in Kind}
_ID_TYPE_BY_VALUE: dict[int, IdType] = {int(t): t for t in IdType}
_VALID_TYPE_KIND_BYTES = bytes(sorted(_VALID_TYPE_KINDS))

#: ``(typeKind, identifier, reportedAt, caseCommitment)`` as returned by :func:`decode_records`.
DecodedRecord = tuple[int, str, int, bytes]


def _describe_type_kind(type_kind: int) -> str:
    id_type, kind = type_kind >> 4, type_kind & 0x0F
    problems = []
    if id_type not in (1, 2):
        problems.append(f"identifier type {id_type} (expected 1 IMEI or 2 MEID)")
    if not 1 <= kind <= 6:
        problems.append(f"kind {kind} (expected 1..6)")
    return f"typeKind 0x{type_kind:02x}: bad " + " and bad ".join(problems)


@dataclass(frozen=True, slots=True)
class Record:
    """One 16-byte record.

    ``identifier`` is the 14-character identifier: 14 decimal digits for an IMEI core (use
    :func:`ledger_node.identifiers.parse_imei` to get it from user input), 14 hex digits for an MEID
    (normalized to lowercase, as ``bytes.hex()`` gives). ``kind`` and ``id_type`` accept plain ints
    and are normalized to their enums.
    """

    identifier: str
    kind: Kind
    reported_at: int
    case_commitment: bytes
    id_type: IdType = IdType.IMEI

    def __post_init__(self) -> None:
        if self.kind.__class__ is not Kind:
            kind = _KIND_BY_VALUE.get(self.kind) if isinstance(self.kind, int) else None
            if kind is None or isinstance(self.kind, bool):
                raise RecordFormatError(f"kind must be 1..6, got {self.kind!r}")
            object.__setattr__(self, "kind", kind)
        id_type = self.id_type
        if id_type.__class__ is not IdType:
            maybe = _ID_TYPE_BY_VALUE.get(id_type) if isinstance(id_type, int) else None
            if maybe is None or isinstance(id_type, bool):
                raise RecordFormatError(f"id_type must be 1 (IMEI) or 2 (MEID), got {id_type!r}")
            id_type = maybe
            object.__setattr__(self, "id_type", id_type)
        identifier = self.identifier
        if not (
            id_type is IdType.IMEI
            and identifier.__class__ is str
            and len(identifier) == IDENTIFIER_CHARS
            and identifier.isdigit()
            and identifier.isascii()
        ):
            object.__setattr__(self, "identifier", _check_identifier(identifier, id_type))
        at = self.reported_at
        if at.__class__ is not int or not 0 <= at <= UINT32_MAX:
            raise RecordFormatError(f"reported_at must be a uint32 (0..{UINT32_MAX}), got {at!r}")
        commitment = self.case_commitment
        if commitment.__class__ is not bytes or len(commitment) != COMMITMENT_SIZE:
            raise RecordFormatError(f"case_commitment must be {COMMITMENT_SIZE} bytes, got {commitment!r}")

    @property
    def type_kind(self) -> int:
        """The first byte: ``id_type << 4 | kind``."""
        return (self.id_type << 4) | self.kind

    def pack(self) -> bytes:
        """The 16 packed bytes."""
        return _STRUCT.pack(
            self.type_kind, bytes.fromhex(self.identifier), self.reported_at, self.case_commitment
        )

    @classmethod
    def unpack(cls, data: bytes) -> Record:
        """Decode and fully validate one 16-byte record.

        Raises:
            RecordFormatError: wrong length, bad type/kind nibble, or an IMEI with non-decimal nibbles.
        """
        if len(data) != RECORD_SIZE:
            raise RecordFormatError(f"a record is {RECORD_SIZE} bytes, got {len(data)}")
        type_kind, ident, reported_at, commitment = _STRUCT.unpack(data)
        if type_kind not in _VALID_TYPE_KINDS:
            raise RecordFormatError(_describe_type_kind(type_kind))
        return cls(
            ident.hex(),
            _KIND_BY_VALUE[type_kind & 0x0F],
            reported_at,
            commitment,
            _ID_TYPE_BY_VALUE[type_kind >> 4],
        )


def _check_identifier(identifier: str, id_type: IdType) -> str:
    if not isinstance(identifier, str) or len(identifier) != IDENTIFIER_CHARS:
        raise RecordFormatError(f"identifier must be 14 characters, got {identifier!r}")
    if id_type is IdType.IMEI:
        if not (identifier.isascii() and identifier.isdigit()):
            raise RecordFormatError(f"an IMEI identifier must be 14 decimal digits, got {identifier!r}")
        return identifier
    lowered = identifier.lower()
    if not _HEX_DIGITS.issuperset(lowered):
        raise RecordFormatError(f"an MEID identifier must be 14 hex digits, got {identifier!r}")
    return lowered


def case_commitment(salt: bytes, case_ref: str) -> bytes:
    """First 4 bytes of ``keccak256(salt || utf8(case_ref))``; ``salt`` must be 32 bytes.

    The salt stays with the national regulator: with it, the regulator can show which case a record
    belongs to; without it, the 4 bytes reveal nothing about the case reference.
    """
    if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
        size = len(salt) if isinstance(salt, bytes | bytearray) else type(salt).__name__
        raise RecordFormatError(f"salt must be {SALT_SIZE} bytes, got {size}")
    return keccak256(salt + case_ref.encode("utf-8"))[:COMMITMENT_SIZE]


def new_salt() -> bytes:
    """A fresh 32-byte salt from the OS CSPRNG (``secrets``)."""
    return secrets.token_bytes(SALT_SIZE)


def pack_records(records: Iterable[Record]) -> bytes:
    """Concatenate the packed form of ``records``."""
    return b"".join([r.pack() for r in records])


def _check_length(data: bytes) -> None:
    if len(data) % RECORD_SIZE:
        raise RecordFormatError(
            f"records length must be a multiple of {RECORD_SIZE}, got {len(data)} "
            f"({len(data) // RECORD_SIZE} records and {len(data) % RECORD_SIZE} extra bytes)"
        )


def check_type_kinds(data: bytes) -> None:
    """Check every record's ``typeKind`` byte as the contract does, in C (slice + translate).

    Raises:
        RecordFormatError: naming the first bad record index and its ``typeKind``.
    """
    type_kinds = data[0::RECORD_SIZE]
    if type_kinds.translate(None, _VALID_TYPE_KIND_BYTES):
        for index, type_kind in enumerate(type_kinds):
            if type_kind not in _VALID_TYPE_KINDS:
                raise RecordFormatError(f"record {index}: {_describe_type_kind(type_kind)}")


def decode_records(data: bytes | bytearray | memoryview, *, strict: bool = False) -> list[DecodedRecord]:
    """Bulk-decode packed records into ``(typeKind, identifier, reportedAt, caseCommitment)`` tuples.

    ``identifier`` is the 14-character lowercase hex of bytes 1..7, i.e. the IMEI core for IMEI
    records. Validation matches the contract: the length is a multiple of 16 and every ``typeKind``
    is accepted (type 1..2, kind 1..6). With ``strict=True`` IMEI identifiers must also be decimal.

    Raises:
        RecordFormatError: bad length, or the first bad record (its index is in the message).
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    _check_length(data)
    check_type_kinds(data)
    decoded = [(tk, ident.hex(), at, cc) for tk, ident, at, cc in _STRUCT.iter_unpack(data)]
    if strict:
        _check_decimal_imeis(decoded)
    return decoded


def _check_decimal_imeis(decoded: list[DecodedRecord]) -> None:
    imei = IdType.IMEI
    idents = [ident for tk, ident, _, _ in decoded if tk >> 4 == imei]
    if "".join(idents).isdigit() or not idents:
        return
    for index, (tk, ident, _, _) in enumerate(decoded):
        if tk >> 4 == imei and not ident.isdigit():
            raise RecordFormatError(f"record {index}: IMEI identifier {ident!r} is not 14 decimal digits")


def iter_records(data: bytes | bytearray | memoryview) -> Iterator[Record]:
    """Yield a fully validated :class:`Record` per 16 bytes of ``data``.

    The length and every ``typeKind`` are checked before the first record is yielded; a record
    whose fields fail :class:`Record` validation raises with its index.
    """
    kinds, id_types = _KIND_BY_VALUE, _ID_TYPE_BY_VALUE
    for index, (tk, ident, at, cc) in enumerate(decode_records(data)):
        try:
            yield Record(ident, kinds[tk & 0x0F], at, cc, id_types[tk >> 4])
        except RecordFormatError as exc:
            raise RecordFormatError(f"record {index}: {exc}") from exc
