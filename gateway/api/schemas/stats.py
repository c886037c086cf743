"""Effectiveness statistics (ITU-T Res. 97): records, recoveries, statuses, checks and blocked attaches."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BlockedAttemptsOut", "ChecksOut", "StatsOut", "StatusCounts"]


class StatusCounts(BaseModel):
    """A count per status."""

    WHITELISTED: int
    GREYLISTED: int
    BLACKLISTED: int


class ChecksOut(BaseModel):
    """Status checks answered here (device, batch and N5g-eir checks), by answer."""

    total: int
    by_status: StatusCounts
    domestic: StatusCounts = Field(description="answers this country's own records are behind")
    cross_border: StatusCounts = Field(description="answers only other countries' records are behind")
    by_origin: dict[str, StatusCounts] = Field(description="per country behind the answer")


class BlockedAttemptsOut(BaseModel):
    """Checks that hit a GREYLISTED or BLACKLISTED device: attach attempts the blocklist stopped."""

    total: int
    domestic: int = Field(description="blocked because of this country's own records")
    cross_border: int = Field(description="blocked only because of other countries' records")
    by_origin: dict[str, int]


class StatsOut(BaseModel):
    """Effectiveness statistics of this gateway."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country": "BR",
                    "records": {"IN": {"STOLEN": 120, "RECOVERED": 4}, "BR": {"LOST": 30}},
                    "recoveries": {"IN": 4, "BR": 0},
                    "statuses": {"WHITELISTED": 4, "GREYLISTED": 0, "BLACKLISTED": 146},
                    "statuses_by_origin": {
                        "BR": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 30},
                        "IN": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 116},
                    },
                    "checks": {
                        "total": 1000,
                        "by_status": {"WHITELISTED": 990, "GREYLISTED": 0, "BLACKLISTED": 10},
                        "domestic": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 3},
                        "cross_border": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 7},
                        "by_origin": {
                            "BR": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 3},
                            "IN": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 7},
                        },
                    },
                    "blocked_attempts": {
                        "total": 10,
                        "domestic": 3,
                        "cross_border": 7,
                        "by_origin": {"BR": 3, "IN": 7},
                    },
                    "outbox_depth": 0,
                    "register": {"LOST": 30},
                }
            ]
        }
    )

    country: str
    records: dict[str, dict[str, int]] = Field(description="applied ledger records per country and kind")
    recoveries: dict[str, int] = Field(description="RECOVERED records per country")
    statuses: StatusCounts = Field(description="devices per current status here (ever-listed devices)")
    statuses_by_origin: dict[str, StatusCounts] = Field(
        description="current statuses per country behind them"
    )
    checks: ChecksOut
    blocked_attempts: BlockedAttemptsOut
    outbox_depth: int = Field(description="this country's reported records not yet in a batch")
    national_register: dict[str, int] = Field(
        alias="register", description="this country's national register per kind"
    )
