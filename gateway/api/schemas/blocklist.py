"""Operator blocklist shapes: the delta feed page (the snapshot itself is CSV or NDJSON, not JSON).

Blocklist identifiers are the 14-digit IMEI core (TAC + serial number), the form stored on the
ledger and compared by an EIR (the check digit is derived, the IMEISV software version is not part
of the identity); the check endpoints accept this form too.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.schemas.common import StatusName

__all__ = ["ChangeOut", "ChangesOut"]


class ChangeOut(BaseModel):
    """An IMEI's status as of this change. `WHITELISTED` means: remove it from the blocklist."""

    change_id: int = Field(description="position in the feed (strictly increasing)")
    imei: str = Field(description="14-digit IMEI core", examples=["49015420323751"])
    status: StatusName
    origins: list[str] = Field(description="countries behind the status (empty when WHITELISTED)")


class ChangesOut(BaseModel):
    """A page of the delta feed: apply `changes` in order, then ask again with `after=cursor`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "after": 1041,
                    "cursor": 1043,
                    "head": 1043,
                    "more": False,
                    "changes": [
                        {
                            "change_id": 1042,
                            "imei": "49015420323751",
                            "status": "BLACKLISTED",
                            "origins": ["IN"],
                        },
                        {"change_id": 1043, "imei": "35693803564380", "status": "WHITELISTED", "origins": []},
                    ],
                }
            ]
        }
    )

    after: int = Field(description="the cursor this page starts after")
    cursor: int = Field(description="pass as `after` for the next page (the last change_id of this page)")
    head: int = Field(description="the newest change id when the page was read")
    more: bool = Field(description="true when changes remain after `cursor`: ask again at once")
    changes: list[ChangeOut]
