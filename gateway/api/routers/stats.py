"""Statistics on effectiveness (ITU-T Res. 97): ``GET /v1/stats``.

Roles: regulator, auditor (and admin). Operators are left out on purpose: the check counters
aggregate every operator's traffic on this gateway, which is the regulator's business, not
another operator's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gateway.api.auth import Principal
from gateway.api.deps import SessionDep, StateDep, require_role
from gateway.api.problems import problem_responses
from gateway.api.schemas.stats import StatsOut
from gateway.services.stats import stats

__all__ = ["router"]

router = APIRouter(tags=["statistics"])


@router.get(
    "/v1/stats",
    response_model=StatsOut,
    summary="Effectiveness statistics",
    responses=problem_responses(401, 403),
)
def get_stats(
    _who: Annotated[Principal, Depends(require_role("regulator", "auditor"))],
    state: StateDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Ledger records per country and kind, recoveries, devices per current status and origin, and
    the status checks answered here: per status, domestic (this country's records behind the answer)
    vs cross-border (only others'), and the blocked-attach attempts (checks answered GREYLISTED or
    BLACKLISTED). Checks counted in memory are written first, so the figures are current.
    Roles: regulator, auditor."""
    state.checks.flush()
    with session.begin():
        return stats(session, country=state.settings.country)
