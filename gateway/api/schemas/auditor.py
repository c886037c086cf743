"""Auditor shapes: a device's ledger history with proofs, a country's batches, audit jobs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.schemas.common import EXAMPLE_IMEI

__all__ = [
    "AuditJobOut",
    "AuditReportOut",
    "AuditVerifyIn",
    "CountryBatchesOut",
    "DiscrepancyOut",
    "HistoryOut",
    "HistoryRecordOut",
    "LedgerBatchOut",
    "QuarantinedOut",
]

_H32 = "0x" + "ab" * 32
_SIGNER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


class HistoryRecordOut(BaseModel):
    """One ledger record of the device, where it sits on chain, and its Merkle inclusion proof."""

    country: str
    kind: str = Field(description="STOLEN, LOST, RECOVERED, DUPLICATED, INVALID or WITHDRAWN")
    reported_at: int = Field(description="when it was reported nationally (Unix seconds)")
    case_commitment: str = Field(description="salted commitment to the national case reference (4 bytes)")
    seq: int = Field(description="batch seq in the country's log")
    index: int = Field(description="record index in the batch (the Merkle leaf position)")
    tx_hash: str
    block_number: int
    log_index: int
    signer: str = Field(description="the key that signed the batch (EIP-712)")
    merkle_root: str = Field(description="the batch's signed Merkle root")
    record: str = Field(description="the 16 packed record bytes, as published")
    leaf: str = Field(description="the leaf hash of (index, record)")
    proof: list[str] = Field(description="sibling hashes, leaf to root (OpenZeppelin MerkleProof order)")
    proof_valid: bool = Field(description="the proof checks against the stored root here")


class HistoryOut(BaseModel):
    """Every ledger record of a device, in chain order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "imei": EXAMPLE_IMEI,
                    "ledger_address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                    "records": [
                        {
                            "country": "IN",
                            "kind": "STOLEN",
                            "reported_at": 1_760_000_000,
                            "case_commitment": "0x1a2b3c4d",
                            "seq": 3,
                            "index": 17,
                            "tx_hash": "0x" + "ef" * 32,
                            "block_number": 42,
                            "log_index": 0,
                            "signer": _SIGNER,
                            "merkle_root": _H32,
                            "record": "0x1149015420323751690c3d801a2b3c4d",
                            "leaf": "0x" + "cd" * 32,
                            "proof": ["0x" + "01" * 32, "0x" + "02" * 32],
                            "proof_valid": True,
                        }
                    ],
                }
            ]
        }
    )

    imei: str = Field(description="15-digit IMEI")
    ledger_address: str = Field(
        description="the ledger contract: each proof verifies with its view "
        "`verifyRecord(country, seq, index, record, proof)`"
    )
    records: list[HistoryRecordOut]


class LedgerBatchOut(BaseModel):
    """A verified batch of a country's log, as applied here from the chain."""

    seq: int
    count: int
    prev_head: str
    head: str
    records_hash: str
    merkle_root: str
    signer: str
    signature: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


class QuarantinedOut(BaseModel):
    """A batch of the country held back: failed verification (rejected) or behind one (held)."""

    seq: int
    state: Literal["rejected", "held"]
    reason: str
    block_number: int
    tx_hash: str
    detected_at: int


class CountryBatchesOut(BaseModel):
    """A country's log as this gateway verified it: head, batches (newest first), quarantine."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country": "IN",
                    "last_seq": 3,
                    "head": _H32,
                    "blocked_seq": None,
                    "batches": [
                        {
                            "seq": 3,
                            "count": 1000,
                            "prev_head": "0x" + "aa" * 32,
                            "head": _H32,
                            "records_hash": "0x" + "bb" * 32,
                            "merkle_root": "0x" + "cc" * 32,
                            "signer": _SIGNER,
                            "signature": "0x" + "dd" * 65,
                            "block_number": 42,
                            "block_hash": "0x" + "ee" * 32,
                            "tx_hash": "0x" + "ef" * 32,
                            "log_index": 0,
                        }
                    ],
                    "quarantined": [],
                    "next_before": 3,
                }
            ]
        }
    )

    country: str
    last_seq: int = Field(description="the last applied seq (0: none)")
    head: str | None = Field(description="the head after `last_seq` (null when none applied)")
    blocked_seq: int | None = Field(description="seq of the quarantined batch that blocks this log, if any")
    batches: list[LedgerBatchOut]
    quarantined: list[QuarantinedOut]
    next_before: int | None = Field(
        default=None, description="pass as `before` for the next (older) page; null on the last page"
    )


class AuditVerifyIn(BaseModel):
    """What to audit."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"country": "IN"}, {}]})

    country: str | None = Field(
        default=None,
        pattern="^[A-Za-z]{2}$",
        description="audit one country's log only (ISO 3166-1 alpha-2); omitted: every country and the "
        "derived status tables",
    )


class DiscrepancyOut(BaseModel):
    """One difference between the chain and the database."""

    country: str
    seq: int | None
    index: int | None
    message: str


class AuditReportOut(BaseModel):
    """The verdict of an audit: `ok` when the database matches the chain exactly."""

    ok: bool
    country: str | None
    from_block: int
    to_block: int
    batches_checked: int
    records_checked: int
    discrepancies: list[DiscrepancyOut]
    notes: list[str]
    seconds: float


class AuditJobOut(BaseModel):
    """An audit job: running, succeeded (with its report) or failed (with the error)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f2c9a0d1e3b4c6a",
                    "state": "succeeded",
                    "country": None,
                    "status_url": "/v1/audit/jobs/5f2c9a0d1e3b4c6a",
                    "started_at": 1_760_000_000.0,
                    "finished_at": 1_760_000_001.2,
                    "batches_checked": 12,
                    "records_checked": 12000,
                    "report": {
                        "ok": True,
                        "country": None,
                        "from_block": 1,
                        "to_block": 42,
                        "batches_checked": 12,
                        "records_checked": 12000,
                        "discrepancies": [],
                        "notes": [],
                        "seconds": 1.2,
                    },
                    "error": None,
                },
                {
                    "id": "9a8b7c6d5e4f3a2b",
                    "state": "running",
                    "country": "IN",
                    "status_url": "/v1/audit/jobs/9a8b7c6d5e4f3a2b",
                    "started_at": 1_760_000_000.0,
                    "finished_at": None,
                    "batches_checked": 3,
                    "records_checked": 3000,
                    "report": None,
                    "error": None,
                },
            ]
        }
    )

    id: str
    state: Literal["running", "succeeded", "failed"]
    country: str | None
    status_url: str
    started_at: float
    finished_at: float | None
    batches_checked: int = Field(description="progress: batches re-verified so far")
    records_checked: int
    report: AuditReportOut | None = Field(description="when succeeded: the verdict (`report.ok`)")
    error: str | None = Field(description="when failed: why the audit could not run to its end")
