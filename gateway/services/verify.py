"""Verification of a batch read from the chain: pure functions, no database, no network.

A gateway trusts nothing it reads from its node. Before a batch is applied, :func:`verify_batch`
re-checks everything the contract checked, plus the Merkle root the contract only stores (the root is
signed, not recomputed on chain: docs/decisions/0001-optimistic-merkle-root.md):

1. ``seq`` is the next one of the country's log (no gap, no replay);
2. ``prevHead`` is the head of the last applied batch (head chain);
3. ``len(records) == 16 * count`` and ``1 <= count <= MAX_BATCH_RECORDS``;
4. ``keccak256(records) == recordsHash``;
5. every record is well formed, as the contract checks it (``typeKind`` byte; bulk decoder);
6. the Merkle root recomputed over the records equals the signed ``merkleRoot``;
7. the EIP-712 signature recovers to the event's ``signer``, and that key is active for the country
   at the event's block (``active_from <= block < revoked_at``, from the signer events).

The checks run cheapest first, so a tampered batch is rejected before the Merkle root is computed.
The Merkle root is the one expensive step (two keccak per record); :func:`merkle_root_of` may run in
a worker process and its result be passed in as ``merkle_root``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import BatchVerificationError
from ledger_node.batch import MAX_BATCH_RECORDS, Batch, recover_signer, struct_hash
from ledger_node.errors import CrossBlockError, RecordFormatError
from ledger_node.events import BatchEvent
from ledger_node.hashing import keccak256
from ledger_node.merkle import merkle_root_packed
from ledger_node.record import RECORD_SIZE, DecodedRecord, decode_records

__all__ = [
    "SignerActive",
    "VerifiedBatch",
    "merkle_root_of",
    "verify_batch",
]

#: ``signer_active(country, signer_address, block) -> bool``.
SignerActive = Callable[[str, str, int], bool]


@dataclass(frozen=True, slots=True)
class VerifiedBatch:
    """A batch that passed every check, with its head and its bulk-decoded records.

    ``records`` holds ``(typeKind, identifier, reportedAt, caseCommitment)`` tuples in record order
    (index = position), as :func:`ledger_node.record.decode_records` returns them.
    """

    event: BatchEvent
    head: bytes
    records: list[DecodedRecord]

    @property
    def country(self) -> str:
        """Publishing country."""
        return self.event.country

    @property
    def seq(self) -> int:
        """Sequence number in the country's log."""
        return self.event.seq

    @property
    def count(self) -> int:
        """Number of records."""
        return self.event.count


def merkle_root_of(records: bytes) -> bytes | None:
    """Merkle root of packed records, or None if they are not a whole number of records.

    Picklable and free of state, so the syncer can run it in a worker process.
    """
    if not records or len(records) % RECORD_SIZE:
        return None
    return merkle_root_packed(records)


def _fail(event: BatchEvent, code: str, reason: str) -> BatchVerificationError:
    return BatchVerificationError(
        f"{event.country}#{event.seq}: {reason}", code=code, country=event.country, seq=event.seq
    )


def verify_batch(
    event: BatchEvent,
    *,
    expected_seq: int,
    expected_prev_head: bytes,
    chain_id: int,
    ledger_address: str,
    signer_active: SignerActive,
    merkle_root: bytes | None = None,
) -> VerifiedBatch:
    """Verify a ``BatchPublished`` event against the country's log state and signer set.

    Args:
        event: the decoded log.
        expected_seq: last applied seq of the country + 1.
        expected_prev_head: head of the country's last applied batch (32 zero bytes before seq 1).
        chain_id: chain id of the EIP-712 domain.
        ledger_address: the ledger contract (EIP-712 ``verifyingContract``).
        signer_active: whether a key may sign for a country at a block (from SignerKey rows).
        merkle_root: the root of ``event.records`` if already computed (e.g. by a worker process
            running :func:`merkle_root_of`); recomputed here otherwise.

    Raises:
        BatchVerificationError: the first failed check; ``code`` names it.
    """
    if event.seq != expected_seq:
        what = "replay" if event.seq < expected_seq else "gap"
        raise _fail(event, "seq-gap", f"seq {what}: expected seq {expected_seq}, got {event.seq}")
    if event.prev_head != expected_prev_head:
        raise _fail(
            event,
            "head-mismatch",
            f"head chain broken: prevHead 0x{event.prev_head.hex()} != head of seq {expected_seq - 1} "
            f"0x{expected_prev_head.hex()}",
        )
    records = event.records
    if not 1 <= event.count <= MAX_BATCH_RECORDS or len(records) != RECORD_SIZE * event.count:
        raise _fail(
            event,
            "records-length",
            f"records are {len(records)} bytes for count {event.count} "
            f"(expected {RECORD_SIZE} * count, 1 <= count <= {MAX_BATCH_RECORDS})",
        )
    computed_hash = keccak256(records)
    if computed_hash != event.records_hash:
        raise _fail(
            event,
            "records-hash",
            f"keccak256(records) 0x{computed_hash.hex()} != recordsHash 0x{event.records_hash.hex()}",
        )
    try:
        decoded = decode_records(records)
    except RecordFormatError as exc:
        raise _fail(event, "malformed-record", f"malformed record: {exc}") from exc
    root = merkle_root if merkle_root is not None else merkle_root_packed(records)
    if root != event.merkle_root:
        raise _fail(
            event,
            "merkle-root",
            f"Merkle root recomputed over the records 0x{root.hex()} "
            f"!= signed root 0x{event.merkle_root.hex()}",
        )
    try:
        batch = Batch(
            event.country, event.seq, event.prev_head, event.records_hash, event.merkle_root, event.count
        )
        recovered = recover_signer(batch, event.signature, chain_id, ledger_address)
    except CrossBlockError as exc:
        raise _fail(event, "bad-signature", f"invalid signature: {exc}") from exc
    if recovered.lower() != event.signer.lower():
        raise _fail(
            event,
            "signer-mismatch",
            f"signature recovers to {recovered}, but the event names signer {event.signer}",
        )
    block = event.position.block_number
    if not signer_active(event.country, recovered, block):
        raise _fail(
            event,
            "signer-not-active",
            f"signer {recovered} is not an active key of {event.country} at block {block}",
        )
    return VerifiedBatch(event=event, head=struct_hash(batch), records=decoded)
