"""Decoding of CrossBlock contract logs, by slicing (no per-record ABI decoding).

``BatchPublished`` carries every record of a batch in one ``bytes`` field; this module slices it out
of the raw log data directly, which is what makes syncing a million records quick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger_node.errors import CrossBlockError

BATCH_PUBLISHED_TOPIC = keccak(
    text="BatchPublished(bytes2,uint64,address,bytes32,bytes32,bytes32,uint32,bytes,bytes)"
)
BATCH_DISPUTED_TOPIC = keccak(text="BatchDisputed(bytes2,uint64,bytes32,bytes32,address)")
SIGNER_ADDED_TOPIC = keccak(text="SignerAdded(bytes2,address,uint64)")
SIGNER_REVOKED_TOPIC = keccak(text="SignerRevoked(bytes2,address,uint64)")


class LogDecodeError(CrossBlockError):
    """A log does not have the layout of the CrossBlock event it claims to be."""


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where a log sits in the chain."""

    block_number: int
    block_hash: bytes
    tx_hash: bytes
    log_index: int


@dataclass(frozen=True, slots=True)
class BatchEvent:
    """A decoded ``BatchPublished`` log: the signed header, signature, records and position."""

    country: str
    seq: int
    signer: str
    prev_head: bytes
    records_hash: bytes
    merkle_root: bytes
    count: int
    signature: bytes
    records: bytes
    position: LogPosition


@dataclass(frozen=True, slots=True)
class SignerEvent:
    """A signer was added (``active`` True) or revoked for a country from ``block``."""

    country: str
    signer: str
    block: int
    active: bool
    position: LogPosition


@dataclass(frozen=True, slots=True)
class DisputeEvent:
    """A batch was proven on chain to have a Merkle root that does not match its records."""

    country: str
    seq: int
    signed_root: bytes
    computed_root: bytes
    challenger: str
    position: LogPosition


def _hex(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def _int(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)


def _country(topic: bytes) -> str:
    return topic[:2].decode("ascii", errors="replace")


def position_of(log: dict[str, Any]) -> LogPosition:
    """Block number, block hash, tx hash and log index of a raw or web3 log."""
    return LogPosition(
        block_number=_int(log["blockNumber"]),
        block_hash=_hex(log["blockHash"]),
        tx_hash=_hex(log["transactionHash"]),
        log_index=_int(log["logIndex"]),
    )


def _dynamic(data: bytes, head_word: int) -> bytes:
    offset = int.from_bytes(data[head_word * 32 : head_word * 32 + 32], "big")
    length = int.from_bytes(data[offset : offset + 32], "big")
    end = offset + 32 + length
    if end > len(data):
        raise LogDecodeError(f"dynamic field {head_word} runs past the log data ({end} > {len(data)})")
    return data[offset + 32 : end]


def decode_batch_published(log: dict[str, Any]) -> BatchEvent:
    """Decode a raw (hex) or web3 ``BatchPublished`` log."""
    topics = [_hex(t) for t in log["topics"]]
    if len(topics) != 4 or topics[0] != BATCH_PUBLISHED_TOPIC:
        raise LogDecodeError("not a BatchPublished log")
    data = _hex(log["data"])
    if len(data) < 6 * 32:
        raise LogDecodeError(f"BatchPublished data too short ({len(data)} bytes)")
    return BatchEvent(
        country=_country(topics[1]),
        seq=int.from_bytes(topics[2], "big"),
        signer=to_checksum_address(topics[3][12:]),
        prev_head=data[0:32],
        records_hash=data[32:64],
        merkle_root=data[64:96],
        count=int.from_bytes(data[96:128], "big"),
        signature=_dynamic(data, 4),
        records=_dynamic(data, 5),
        position=position_of(log),
    )


def decode_signer_event(log: dict[str, Any]) -> SignerEvent:
    """Decode a ``SignerAdded`` or ``SignerRevoked`` log."""
    topics = [_hex(t) for t in log["topics"]]
    if len(topics) != 3 or topics[0] not in (SIGNER_ADDED_TOPIC, SIGNER_REVOKED_TOPIC):
        raise LogDecodeError("not a signer log")
    data = _hex(log["data"])
    return SignerEvent(
        country=_country(topics[1]),
        signer=to_checksum_address(topics[2][12:]),
        block=int.from_bytes(data[0:32], "big"),
        active=topics[0] == SIGNER_ADDED_TOPIC,
        position=position_of(log),
    )


def decode_dispute(log: dict[str, Any]) -> DisputeEvent:
    """Decode a ``BatchDisputed`` log."""
    topics = [_hex(t) for t in log["topics"]]
    if len(topics) != 3 or topics[0] != BATCH_DISPUTED_TOPIC:
        raise LogDecodeError("not a BatchDisputed log")
    data = _hex(log["data"])
    return DisputeEvent(
        country=_country(topics[1]),
        seq=int.from_bytes(topics[2], "big"),
        signed_root=data[0:32],
        computed_root=data[32:64],
        challenger=to_checksum_address(data[76:96]),
        position=position_of(log),
    )
