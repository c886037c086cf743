"""An IMEI's full ledger history, each record with its Merkle inclusion proof (auditor view).

Records are not stored packed: the 16 bytes are rebuilt from the ``LedgerRecord`` fields
(:func:`gateway.services.apply.pack_row`), the batch's tree from all its records, and each proof is
checked against the stored (signed) root before it is returned, so ``proof_valid`` is False if the
database no longer holds exactly what was published. A proof also verifies on chain with the
contract's ``verifyRecord(country, seq, index, record, proof)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import LedgerBatch, LedgerRecord
from gateway.services.apply import pack_row
from ledger_node.identifiers import IMEI_CORE_LENGTH, parse_imei
from ledger_node.merkle import MerkleTree, leaf_hash, verify_record
from ledger_node.record import Kind

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
    rows = session.execute(
        select(LedgerRecord.imei, LedgerRecord.kind, LedgerRecord.reported_at, LedgerRecord.case_commitment)
        .where(LedgerRecord.country == country, LedgerRecord.seq == seq)
        .order_by(LedgerRecord.idx)
    ).all()
    records = [pack_row(imei, kind, at, com) for imei, kind, at, com in rows]
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
        _records, tree = trees[key]
        packed = pack_row(rec.imei, rec.kind, rec.reported_at, rec.case_commitment)
        proof = tree.proof(rec.idx) if rec.idx < len(tree) else []
        root = bytes(batch.merkle_root)
        valid = len(tree) == batch.count and tree.root == root and verify_record(packed, rec.idx, proof, root)
        items.append(
            HistoryItem(
                country=rec.country,
                kind=_kind_name(rec.kind),
                reported_at=rec.reported_at,
                case_commitment="0x" + bytes(rec.case_commitment).hex(),
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
