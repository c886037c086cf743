"""Operator: the cross-border blocklist as a streamed snapshot and as a delta feed.

``GET /v1/blocklist`` streams every listed IMEI (CSV or NDJSON) from one consistent database read,
a chunk at a time (:mod:`gateway.services.blocklist`): a million rows never sit in memory. The
snapshot's feed cursor is in the ``X-Blocklist-Cursor`` header, so a client can take a snapshot and
then follow ``GET /v1/blocklist/changes?after=<cursor>`` to stay current.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from gateway.api.deps import ContextDep, Operator, SessionDep
from gateway.api.problems import problem_responses
from gateway.api.schemas.blocklist import ChangesOut
from gateway.api.schemas.common import MAX_INT64
from gateway.services.blocklist import CHANGES_MAX_LIMIT, CSV_HEADER, changes, open_snapshot

__all__ = ["CURSOR_HEADER", "router"]

router = APIRouter(tags=["operator"])

CURSOR_HEADER = "X-Blocklist-Cursor"
_MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
_CSV_EXAMPLE = CSV_HEADER.decode() + '35693803564380,BLACKLISTED,IN\n49015420323751,GREYLISTED,"BR,IN"\n'
_NDJSON_EXAMPLE = (
    '{"imei":"35693803564380","status":"BLACKLISTED","origins":["IN"]}\n'
    '{"imei":"49015420323751","status":"GREYLISTED","origins":["BR","IN"]}\n'
)


@router.get(
    "/v1/blocklist",
    summary="Blocklist snapshot (streamed CSV or NDJSON)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every IMEI that is BLACKLISTED or GREYLISTED here, in IMEI order. The "
            f"`{CURSOR_HEADER}` header is the delta-feed cursor the snapshot is consistent with.",
            "headers": {
                CURSOR_HEADER: {
                    "description": "pass as `after` to /v1/blocklist/changes to follow from this snapshot",
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
            "content": {
                _MEDIA["csv"]: {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
                _MEDIA["ndjson"]: {"schema": {"type": "string"}, "example": _NDJSON_EXAMPLE},
            },
        },
        **problem_responses(401, 403, 422),
    },
)
async def get_blocklist(
    _who: Operator,
    context: ContextDep,
    fmt: Annotated[
        Literal["csv", "ndjson"],
        Query(alias="format", description="`csv` (header `imei,status,origins`) or `ndjson`"),
    ] = "csv",
) -> StreamingResponse:
    """The full blocklist of this gateway: every IMEI whose effective status under this gateway's
    policy is `BLACKLISTED` or `GREYLISTED`, with the countries behind it, in IMEI order (14-digit
    IMEI core). Streamed from one consistent read of the database (1,000,000 rows in a few seconds,
    constant memory). Role: operator."""
    snapshot = await run_in_threadpool(open_snapshot, engine=context.engine)
    body = snapshot.csv() if fmt == "csv" else snapshot.ndjson()
    return StreamingResponse(
        body,
        media_type=_MEDIA[fmt],
        headers={
            CURSOR_HEADER: str(snapshot.cursor),
            "Content-Disposition": f'inline; filename="blocklist-{context.settings.country}.{fmt}"',
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(snapshot.close),  # also when the client goes away mid-stream
    )


@router.get(
    "/v1/blocklist/changes",
    response_model=ChangesOut,
    summary="Blocklist delta feed",
    responses=problem_responses(401, 403, 409, 422),
)
def get_changes(
    _who: Operator,
    session: SessionDep,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_INT64,
            description="cursor: 0 for the whole history, a snapshot's cursor, or a page's `cursor`",
        ),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=CHANGES_MAX_LIMIT, description="changes per page")] = 1000,
) -> dict[str, Any]:
    """Status changes after the cursor `after`, oldest first. Apply them in order: a `WHITELISTED`
    change removes the IMEI, any other sets it. A client that starts at `after=0` (or at a
    snapshot's `X-Blocklist-Cursor`) and follows `cursor` while `more` is true ends with exactly
    the current snapshot. A cursor above the newest change was not issued by this gateway: 409.
    Role: operator."""
    with session.begin():
        page = changes(session, after=after, limit=limit)
    return {
        "after": page.after,
        "cursor": page.cursor,
        "head": page.head,
        "more": page.more,
        "changes": [
            {"change_id": c.change_id, "imei": c.imei, "status": c.status, "origins": list(c.origins)}
            for c in page.changes
        ],
    }
