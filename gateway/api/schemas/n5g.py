"""3GPP TS 29.511 N5g-eir shapes: EirResponseData and TS 29.571 ProblemDetails (the parts we answer)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.schemas.common import StatusName

__all__ = ["EirResponseData", "InvalidParam3gpp", "ProblemDetails3gpp"]


class EirResponseData(BaseModel):
    """TS 29.511 EirResponseData."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "BLACKLISTED"}]})

    status: StatusName


class InvalidParam3gpp(BaseModel):
    """TS 29.571 InvalidParam."""

    param: str = Field(examples=["query pei"])
    reason: str | None = None


class ProblemDetails3gpp(BaseModel):
    """TS 29.571 ProblemDetails (with the RFC 9457 members every gateway problem has)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:crossblock:problem:mandatory-ie-incorrect",
                    "title": "Bad Request",
                    "status": 400,
                    "detail": "pei: expected imei-<15 digits> or imeisv-<16 digits>",
                    "instance": "/n5g-eir-eic/v1/equipment-status",
                    "cause": "MANDATORY_IE_INCORRECT",
                    "invalidParams": [{"param": "query pei", "reason": "unknown prefix 'mac-'"}],
                }
            ]
        },
    )

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    cause: str | None = None
    invalidParams: list[InvalidParam3gpp] | None = None  # noqa: N815 (3GPP member name)
