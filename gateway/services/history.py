"""An IMEI's full ledger history, each record with its Merkle inclusion proof (auditor view).

The IMEI's records are found through ``LedgerRecord`` (clustered by IMEI); their 16 packed bytes and
the batch's tree come from the batch's stored records (``LedgerBatch.records``), and each proof is
checked against the stored (signed) root before it is returned, so ``proof_valid`` is False if the
database no longer holds exactly what was published. A proof also verifies on chain with the
contract's ``verifyRecord(country, seq, index, record, proof)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import LedgerBatch, LedgerRecord
from gateway.services.apply import stored_kind
from ledger_node.identifiers import IMEI_CORE_LENGTH, parse_imei
from ledger_node.merkle import MerkleTree, leaf_hash, verify_record
from ledger_node.record import RECORD_SIZE, Kind

__all__ = ["HistoryItem", "batch_tree", "device_history"]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One ledger record of an IMEI, where it sits on the chain, and its inclusion proof."""

    country: str
    kind: str
    reported_at: int
    case_commitment: str  # 0x + 8 hex digits
    seq: int
    index: int
    tx_hash: str
    block_number: int
    log_index: int
    signer: str
    merkle_root: str
    record: str  # the 16 packed bytes, 0x hex
    leaf: str
    proof: list[str]
    proof_valid: bool


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return f"typeKind 0x{kind:02x}"


def batch_tree(session: Session, *, country: str, seq: int) -> tuple[list[bytes], MerkleTree]:
    """The packed records of a stored batch (by index) and the Merkle tree rebuilt over them."""
    blob = session.execute(
        select(LedgerBatch.records).where(LedgerBatch.country == country, LedgerBatch.seq == seq)
    ).scalar()
    data = b"" if blob is None else bytes(blob)
    records = [data[o : o + RECORD_SIZE] for o in range(0, len(data) - len(data) % RECORD_SIZE, RECORD_SIZE)]
    return records, MerkleTree.from_records(records)


def device_history(session: Session, *, imei: str) -> list[HistoryItem]:
    """Every ledger record of ``imei`` (any IMEI form), in chain order, each with its proof.

    Raises:
        InvalidIdentifierError: ``imei`` is not a valid IMEI.
    """
    core = imei if len(imei) == IMEI_CORE_LENGTH and imei.isdigit() else parse_imei(imei)
    rows = session.execute(
        select(LedgerRecord, LedgerBatch)
        .join(
            LedgerBatch, (LedgerBatch.country == LedgerRecord.country) & (LedgerBatch.seq == LedgerRecord.seq)
        )
        .where(LedgerRecord.imei == core)
        .order_by(LedgerBatch.block_number, LedgerBatch.log_index, LedgerRecord.idx)
    ).all()
    trees: dict[tuple[str, int], tuple[list[bytes], MerkleTree]] = {}
    items: list[HistoryItem] = []
    for rec, batch in rows:
        key = (rec.country, rec.seq)
        if key not in trees:
            trees[key] = batch_tree(session, country=rec.country, seq=rec.seq)
        records, tree = trees[key]
        packed = records[rec.idx] if rec.idx < len(records) else bytes(RECORD_SIZE)
        proof = tree.proof(rec.idx) if rec.idx < len(tree) else []
        root = bytes(batch.merkle_root)
        indexed = (  # the IMEI's row says what the packed record says
            packed[1:8].hex() == rec.imei
            and stored_kind(packed[0]) == rec.kind
            and int.from_bytes(packed[8:12], "big") == rec.reported_at
        )
        valid = (
            indexed
            and len(tree) == batch.count
            and tree.root == root
            and verify_record(packed, rec.idx, proof, root)
        )
        items.append(
            HistoryItem(
                country=rec.country,
                kind=_kind_name(rec.kind),
                reported_at=rec.reported_at,
                case_commitment="0x" + packed[12:16].hex(),
                seq=rec.seq,
                index=rec.idx,
                tx_hash="0x" + bytes(batch.tx_hash).hex(),
                block_number=batch.block_number,
                log_index=batch.log_index,
                signer=batch.signer,
                merkle_root="0x" + root.hex(),
                record="0x" + packed.hex(),
                leaf="0x" + leaf_hash(rec.idx, packed).hex(),
                proof=["0x" + node.hex() for node in proof],
                proof_valid=valid,
            )
        )
    return items
