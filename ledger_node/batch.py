"""The signed batch header, its EIP-712 hashes and signer recovery (docs/record-format.md).

    BATCH_TYPEHASH = keccak256("Batch(bytes2 country,uint64 seq,bytes32 prevHead,bytes32 recordsHash,"
                               "bytes32 merkleRoot,uint32 count)")
    structHash     = keccak256(abi.encode(BATCH_TYPEHASH, country, seq, prevHead, recordsHash,
                                          merkleRoot, count))
    head           = structHash
    digest         = keccak256(0x1901 || domainSeparator || structHash)

Hashes are computed with ``eth_abi.encode``; the tests check they equal eth-account's
``encode_typed_data`` on the full typed-data message (:func:`typed_data`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import is_address, to_checksum_address
from eth_utils.exceptions import ValidationError

from ledger_node.errors import BatchFormatError, InvalidCountryError, RecordFormatError, SignatureError
from ledger_node.hashing import keccak256
from ledger_node.merkle import merkle_root_packed

__all__ = [
    "BATCH_TYPE",
    "BATCH_TYPEHASH",
    "DOMAIN_NAME",
    "DOMAIN_TYPE",
    "DOMAIN_TYPEHASH",
    "DOMAIN_VERSION",
    "MAX_BATCH_RECORDS",
    "ZERO_HASH",
    "Batch",
    "country_bytes",
    "digest",
    "domain_separator",
    "recover_digest_signer",
    "recover_signer",
    "struct_hash",
    "to_abi_tuple",
    "typed_data",
]

BATCH_TYPE = (
    "Batch(bytes2 country,uint64 seq,bytes32 prevHead,bytes32 recordsHash,bytes32 merkleRoot,uint32 count)"
)
BATCH_TYPEHASH = keccak256(BATCH_TYPE.encode())
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
DOMAIN_TYPEHASH = keccak256(DOMAIN_TYPE.encode())
DOMAIN_NAME = "CrossBlock"
DOMAIN_VERSION = "1"
ZERO_HASH = bytes(32)
#: Batch size limit of docs/record-format.md (``1 <= count <= 10,000``); the contract's
#: ``maxBatchRecords()`` is authoritative on chain.
MAX_BATCH_RECORDS = 10_000

_RECORD_SIZE = 16
_UINT64_MAX = 2**64 - 1
_UINT32_MAX = 2**32 - 1
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_BATCH_ABI_TYPES = ("bytes32", "bytes2", "uint64", "bytes32", "bytes32", "bytes32", "uint32")
_DOMAIN_ABI_TYPES = ("bytes32", "bytes32", "bytes32", "uint256", "address")


def country_bytes(cc: str) -> bytes:
    """``"IN"`` -> ``b"IN"``: an ISO 3166-1 alpha-2 code as the contract's ``bytes2``.

    Raises:
        InvalidCountryError: not exactly two uppercase ASCII letters (no case folding: ``"in"`` is
            rejected so that one country can never have two spellings).
    """
    if not isinstance(cc, str):
        raise InvalidCountryError(cc, f"expected a str, got {type(cc).__name__}")
    if len(cc) != 2 or not (cc.isascii() and cc.isalpha() and cc.isupper()):
        raise InvalidCountryError(cc)
    return cc.encode("ascii")


def _check_hash(name: str, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise BatchFormatError(f"{name} must be 32 bytes, got {value!r}")


def _check_uint(name: str, value: object, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise BatchFormatError(f"{name} must be an integer in 0..{maximum}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Batch:
    """The batch header the country signs (the contract's ``ICrossBlockLedger.Batch``).

    Fields are checked against their ABI types only (``bytes2``/``uint64``/``bytes32``/``uint32``);
    protocol rules (``seq == last + 1``, ``1 <= count <= max``) are the contract's to enforce, so a
    deliberately wrong batch can still be built to exercise its reverts.
    """

    country: str
    seq: int
    prev_head: bytes
    records_hash: bytes
    merkle_root: bytes
    count: int

    def __post_init__(self) -> None:
        country_bytes(self.country)
        _check_uint("seq", self.seq, _UINT64_MAX)
        _check_hash("prev_head", self.prev_head)
        _check_hash("records_hash", self.records_hash)
        _check_hash("merkle_root", self.merkle_root)
        _check_uint("count", self.count, _UINT32_MAX)

    @classmethod
    def build(cls, country: str, seq: int, prev_head: bytes, records: bytes) -> Batch:
        """Header for packed ``records``: computes ``recordsHash``, the Merkle root and ``count``.

        Raises:
            BatchFormatError: no records, or more than :data:`MAX_BATCH_RECORDS`.
            RecordFormatError: ``len(records)`` is not a multiple of 16.
        """
        records = bytes(records)
        count, extra = divmod(len(records), _RECORD_SIZE)
        if extra:
            raise RecordFormatError(
                f"records length must be a multiple of {_RECORD_SIZE}, got {len(records)}"
            )
        if count == 0:
            raise BatchFormatError("a batch needs at least one record")
        if count > MAX_BATCH_RECORDS:
            raise BatchFormatError(f"a batch holds at most {MAX_BATCH_RECORDS} records, got {count}")
        return cls(country, seq, prev_head, keccak256(records), merkle_root_packed(records), count)

    @property
    def country_code(self) -> bytes:
        """The ``bytes2`` country."""
        return country_bytes(self.country)

    @property
    def head(self) -> bytes:
        """The head this batch produces (= :func:`struct_hash`)."""
        return struct_hash(self)

    def next(self, records: bytes) -> Batch:
        """Build the following batch of the same country, chained to this one's head."""
        return Batch.build(self.country, self.seq + 1, self.head, records)


def struct_hash(batch: Batch) -> bytes:
    """EIP-712 ``hashStruct(batch)``, which is also the new head of the country's log."""
    return keccak256(
        abi_encode(
            _BATCH_ABI_TYPES,
            (
                BATCH_TYPEHASH,
                batch.country_code,
                batch.seq,
                batch.prev_head,
                batch.records_hash,
                batch.merkle_root,
                batch.count,
            ),
        )
    )


def _checked_address(verifying_contract: str) -> str:
    if not isinstance(verifying_contract, str) or not is_address(verifying_contract):
        raise SignatureError(f"verifying_contract is not an address: {verifying_contract!r}")
    return str(to_checksum_address(verifying_contract))


def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    """EIP-712 domain separator for name "CrossBlock", version "1", ``chain_id`` and the ledger address."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 0:
        raise SignatureError(f"chain_id must be a non-negative integer, got {chain_id!r}")
    if not isinstance(verifying_contract, str):
        raise SignatureError(f"verifying_contract is not an address: {verifying_contract!r}")
    return _domain_separator(chain_id, verifying_contract)


@functools.lru_cache(maxsize=64)
def _domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    # Cached: a gateway verifies every batch under the same few domains.
    return keccak256(
        abi_encode(
            _DOMAIN_ABI_TYPES,
            (
                DOMAIN_TYPEHASH,
                keccak256(DOMAIN_NAME.encode()),
                keccak256(DOMAIN_VERSION.encode()),
                chain_id,
                _checked_address(verifying_contract),
            ),
        )
    )


def digest(batch: Batch, chain_id: int, verifying_contract: str) -> bytes:
    """The 32-byte EIP-712 digest a signer signs: ``keccak256(0x1901 || domainSeparator || structHash)``."""
    return keccak256(b"\x19\x01" + domain_separator(chain_id, verifying_contract) + struct_hash(batch))


def typed_data(batch: Batch, chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The full EIP-712 typed-data message (``eth_signTypedData_v4`` / ``encode_typed_data`` shape).

    Useful for external signers (wallets, HSM/KMS front-ends) that sign typed data rather than a raw
    digest. Byte fields are ``0x`` hex strings.
    """
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Batch": [
                {"name": "country", "type": "bytes2"},
                {"name": "seq", "type": "uint64"},
                {"name": "prevHead", "type": "bytes32"},
                {"name": "recordsHash", "type": "bytes32"},
                {"name": "merkleRoot", "type": "bytes32"},
                {"name": "count", "type": "uint32"},
            ],
        },
        "primaryType": "Batch",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": _checked_address(verifying_contract),
        },
        "message": {
            "country": "0x" + batch.country_code.hex(),
            "seq": batch.seq,
            "prevHead": "0x" + batch.prev_head.hex(),
            "recordsHash": "0x" + batch.records_hash.hex(),
            "merkleRoot": "0x" + batch.merkle_root.hex(),
            "count": batch.count,
        },
    }


def to_abi_tuple(batch: Batch) -> tuple[bytes, int, bytes, bytes, bytes, int]:
    """The calldata struct ``(bytes2,uint64,bytes32,bytes32,bytes32,uint32)`` for web3 contract calls."""
    return (
        batch.country_code,
        batch.seq,
        batch.prev_head,
        batch.records_hash,
        batch.merkle_root,
        batch.count,
    )


def recover_signer(batch: Batch, signature: bytes, chain_id: int, verifying_contract: str) -> str:
    """Checksum address of the key that signed ``batch`` (65-byte ``r || s || v``).

    Applies the same rules as OpenZeppelin ``ECDSA.recover`` used by the contract: ``v`` must be 27
    or 28 and ``s`` in the lower half of the curve order, so anything accepted here is accepted on
    chain (and vice versa).

    Raises:
        SignatureError: wrong length, bad ``v``, ``r``/``s`` out of range, or no key recoverable.
    """
    return recover_digest_signer(digest(batch, chain_id, verifying_contract), signature)


def recover_digest_signer(message_digest: bytes, signature: bytes) -> str:
    """Checksum address that produced ``signature`` (65 bytes, ``r || s || v``) over a 32-byte digest."""
    if not isinstance(signature, bytes | bytearray) or len(signature) != 65:
        size = len(signature) if isinstance(signature, bytes | bytearray) else type(signature).__name__
        raise SignatureError(f"signature must be 65 bytes (r || s || v), got {size}")
    r = int.from_bytes(signature[0:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"signature v must be 27 or 28, got {v}")
    if not 0 < r < _SECP256K1_N:
        raise SignatureError("signature r is out of range")
    if not 0 < s <= _SECP256K1_N // 2:
        raise SignatureError("signature s is zero or in the upper half of the curve order (malleable)")
    try:
        public_key = Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(message_digest)
    except (BadSignature, ValidationError) as exc:
        raise SignatureError(f"no public key recoverable from signature: {exc}") from exc
    return str(public_key.to_checksum_address())
