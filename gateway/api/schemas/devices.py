"""Operator shapes: a device's status with its origins and reasons, and the batch check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.schemas.common import EXAMPLE_IMEI, EXAMPLE_IMEI_2, KindName, StatusName

__all__ = ["CheckIn", "CheckItemOut", "CheckOut", "DeviceOut", "EntryOut", "ReasonOut"]

MAX_CHECK = 10_000


class ReasonOut(BaseModel):
    """One country's record behind the status."""

    country: str
    kind: KindName
    status: StatusName = Field(description="what this record contributes under this gateway's policy")


class EntryOut(BaseModel):
    """A country's latest record of the device, where it sits on the ledger, and whether it counts."""

    country: str
    kind: str
    reported_at: int
    seq: int = Field(description="batch seq in that country's log")
    index: int = Field(description="record index in the batch")
    signer: str
    block_number: int
    tx_hash: str
    contributes: StatusName
    note: str


class DeviceOut(BaseModel):
    """A device's effective status here, the countries behind it and why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "imei": EXAMPLE_IMEI,
                    "status": "BLACKLISTED",
                    "origins": ["IN"],
                    "reasons": [{"country": "IN", "kind": "STOLEN", "status": "BLACKLISTED"}],
                },
                {"imei": EXAMPLE_IMEI_2, "status": "WHITELISTED", "origins": [], "reasons": []},
            ]
        }
    )

    imei: str = Field(description="15-digit IMEI")
    status: StatusName
    origins: list[str] = Field(description="countries whose records give the status (empty when WHITELISTED)")
    reasons: list[ReasonOut] = Field(description="the records behind the status")
    entries: list[EntryOut] | None = Field(
        default=None, description="with `explain=true`: every country's latest record, counted or not"
    )


class CheckIn(BaseModel):
    """Up to 10,000 identifiers to check at once."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"imeis": [EXAMPLE_IMEI, EXAMPLE_IMEI_2]}]}
    )

    imeis: list[str] = Field(description="IMEIs in any accepted form (14/15/16 digits, PEI)")
    reasons: bool = Field(default=False, description="also return the records behind each status (slower)")


class CheckItemOut(BaseModel):
    """One identifier's answer (``error`` instead when it is not a valid IMEI)."""

    index: int
    imei: str = Field(description="15-digit IMEI, or the identifier as sent when invalid")
    status: StatusName | None = None
    origins: list[str] | None = None
    reasons: list[ReasonOut] | None = None
    error: str | None = None


class CheckOut(BaseModel):
    """Per-identifier answers in request order, and counts per status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "checked": 3,
                    "invalid": 1,
                    "counts": {"WHITELISTED": 1, "GREYLISTED": 0, "BLACKLISTED": 1},
                    "results": [
                        {"index": 0, "imei": EXAMPLE_IMEI, "status": "BLACKLISTED", "origins": ["IN"]},
                        {"index": 1, "imei": EXAMPLE_IMEI_2, "status": "WHITELISTED", "origins": []},
                        {"index": 2, "imei": "12345", "error": "invalid device identifier '12345': ..."},
                    ],
                }
            ]
        }
    )

    checked: int
    invalid: int
    counts: dict[str, int]
    results: list[CheckItemOut]
