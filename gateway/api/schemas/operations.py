"""Operations shapes: liveness and readiness."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CheckOut", "HealthOut", "ReadyOut"]


class HealthOut(BaseModel):
    """The process is alive."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "country": "IN"}]})

    status: str
    country: str


class CheckOut(BaseModel):
    """One readiness check."""

    ok: bool
    detail: str


class ReadyOut(BaseModel):
    """Readiness: every check passed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ready": True,
                    "checks": {
                        "database": {"ok": True, "detail": "sqlite up"},
                        "node": {"ok": True, "detail": "latest block 1200"},
                        "sync": {"ok": True, "detail": "0 blocks behind (bound 20)"},
                    },
                    "latest_block": 1200,
                    "sync_block": 1200,
                    "lag": 0,
                }
            ]
        }
    )

    ready: bool
    checks: dict[str, CheckOut] = Field(description="database, node, sync")
    latest_block: int | None = Field(description="the node's latest block")
    sync_block: int | None = Field(description="the last block the syncer applied (null: never synced)")
    lag: int | None = Field(description="blocks behind the applicable head")
