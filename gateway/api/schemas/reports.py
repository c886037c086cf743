"""Regulator shapes: reports (one or many), per-item results, recoveries, own batches."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from gateway.api.schemas.common import EXAMPLE_IMEI, EXAMPLE_IMEI_2, KindName

__all__ = [
    "BatchOut",
    "BatchesOut",
    "BulkReportOut",
    "ItemError",
    "RecoveryIn",
    "ReportIn",
    "ReportOut",
]

MAX_REPORTS = 10_000


class ReportIn(BaseModel):
    """One report of the national register: a device STOLEN, LOST, DUPLICATED or INVALID.

    In a list, RECOVERED and WITHDRAWN are accepted too (they clear this country's own entry).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "imei": EXAMPLE_IMEI,
                    "kind": "STOLEN",
                    "reported_at": 1_760_000_000,
                    "case_ref": "IN-PB-2025-0042",
                }
            ]
        },
    )

    imei: str = Field(
        description="14 digits (core), 15 (Luhn check digit verified), 16 (IMEISV) or a PEI "
        "(`imei-<15>`, `imeisv-<16>`)",
        max_length=64,
    )
    kind: KindName
    reported_at: int | None = Field(
        default=None, description="when it was reported nationally, Unix seconds (default: now)"
    )
    case_ref: str = Field(
        default="",
        max_length=256,
        description="national case reference; only a salted commitment to it is published",
    )


class ItemError(BaseModel):
    """Why one item was not applied."""

    code: str = Field(description="invalid_identifier, rejected, not_blocked or foreign_block")
    detail: str


#: The answer to one accepted STOLEN report (also the OpenAPI example of ``POST /v1/reports``).
REPORT_OUT_EXAMPLE: JsonDict = {
    "index": 0,
    "imei": EXAMPLE_IMEI,
    "ok": True,
    "changed": True,
    "kind": "STOLEN",
    "reported_at": 1_760_000_000,
    "previous_kind": None,
    "error": None,
}


class ReportOut(BaseModel):
    """Result of one report (or one item of a list)."""

    model_config = ConfigDict(json_schema_extra={"examples": [REPORT_OUT_EXAMPLE]})

    index: int = Field(description="position of the item in the request (0 for a single report)")
    imei: str = Field(description="15-digit IMEI when it parsed, else the identifier as sent")
    ok: bool
    changed: bool = Field(default=False, description="false for an identical repeat (nothing published)")
    kind: KindName | None = None
    reported_at: int | None = None
    previous_kind: KindName | None = Field(default=None, description="this country's entry before")
    error: ItemError | None = None


class BulkReportOut(BaseModel):
    """Per-item results of a list of reports, in request order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "applied": 1,
                    "unchanged": 0,
                    "rejected": 1,
                    "results": [
                        {
                            "index": 0,
                            "imei": EXAMPLE_IMEI,
                            "ok": True,
                            "changed": True,
                            "kind": "STOLEN",
                            "reported_at": 1_760_000_000,
                            "previous_kind": None,
                            "error": None,
                        },
                        {
                            "index": 1,
                            "imei": "490154203237519",
                            "ok": False,
                            "changed": False,
                            "kind": None,
                            "reported_at": None,
                            "previous_kind": None,
                            "error": {
                                "code": "invalid_identifier",
                                "detail": "invalid device identifier '490154203237519': bad check digit 9, "
                                "expected 8",
                            },
                        },
                    ],
                }
            ]
        }
    )

    applied: int = Field(description="items that changed the register (and will be published)")
    unchanged: int = Field(description="identical repeats")
    rejected: int = Field(description="items with an error (nothing changed for them)")
    results: list[ReportOut]


class RecoveryIn(BaseModel):
    """Optional details of a recovery."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reported_at": 1_760_086_400}]}
    )

    reported_at: int | None = Field(
        default=None, description="when it was recovered, Unix seconds (default: now)"
    )


BatchState = Literal["pending", "submitted", "confirmed"]


class BatchOut(BaseModel):
    """One of this country's signed batches."""

    seq: int
    state: BatchState = Field(
        description="pending (signed, not sent), submitted (sent), confirmed (on chain)"
    )
    count: int = Field(description="records in the batch")
    signer: str
    head: str
    merkle_root: str
    tx_hash: str | None = None
    block_number: int | None = None
    created_at: int
    submitted_at: int | None = None
    confirmed_at: int | None = None


class BatchesOut(BaseModel):
    """This country's published batches, newest first, and the records still waiting for one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country": "IN",
                    "unbatched_records": 12,
                    "batches": [
                        {
                            "seq": 7,
                            "state": "confirmed",
                            "count": 1000,
                            "signer": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
                            "head": "0x" + "ab" * 32,
                            "merkle_root": "0x" + "cd" * 32,
                            "tx_hash": "0x" + "ef" * 32,
                            "block_number": 42,
                            "created_at": 1_760_000_000,
                            "submitted_at": 1_760_000_001,
                            "confirmed_at": 1_760_000_002,
                        }
                    ],
                    "next_before": None,
                }
            ]
        }
    )

    country: str
    unbatched_records: int = Field(description="reported records not yet cut into a batch")
    batches: list[BatchOut]
    next_before: int | None = Field(
        default=None, description="pass as `before` to get the next (older) page; null on the last page"
    )


EXAMPLE_BULK = [
    {"imei": EXAMPLE_IMEI, "kind": "STOLEN", "reported_at": 1_760_000_000, "case_ref": "IN-PB-2025-0042"},
    {"imei": EXAMPLE_IMEI_2, "kind": "LOST"},
]
