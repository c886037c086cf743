"""Regulator: this country's own published batches and their state (pending, submitted, confirmed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.deps import Regulator, SessionDep, StateDep
from gateway.api.problems import problem_responses
from gateway.api.schemas.common import MAX_INT64
from gateway.api.schemas.reports import BatchesOut, BatchOut
from gateway.db.models import PublishedBatch
from gateway.services.publisher import CONFIRMED, SUBMITTED, batch_page, unbatched_count

__all__ = ["router"]

router = APIRouter(tags=["regulator"])

_STATES = {SUBMITTED: "submitted", CONFIRMED: "confirmed"}  # "signed" (not yet sent) is pending


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + bytes(value).hex()


def _out(batch: PublishedBatch) -> BatchOut:
    return BatchOut(
        seq=batch.seq,
        state=_STATES.get(batch.state, "pending"),
        count=batch.count,
        signer=batch.signer,
        head=_hex(batch.head) or "",
        merkle_root=_hex(batch.merkle_root) or "",
        tx_hash=_hex(batch.tx_hash),
        block_number=batch.block_number,
        created_at=batch.created_at,
        submitted_at=batch.submitted_at,
        confirmed_at=batch.confirmed_at,
    )


@router.get(
    "/v1/batches",
    response_model=BatchesOut,
    summary="This country's published batches",
    responses=problem_responses(401, 403, 422),
)
def get_batches(
    _who: Regulator,
    state: StateDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="batches per page")] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_INT64, description="only batches with a lower seq (paging)")
    ] = None,
) -> BatchesOut:
    """Batches this gateway signed, newest first: `pending` (signed, not yet sent), `submitted`
    (sent, not yet confirmed) or `confirmed` (on chain, with its transaction and block).

    Role: regulator (or admin)."""
    with session.begin():
        batches = batch_page(session, limit=limit, before=before)
        waiting = unbatched_count(session)
    return BatchesOut(
        country=state.settings.country,
        unbatched_records=waiting,
        batches=[_out(b) for b in batches],
        next_before=batches[-1].seq if len(batches) == limit and batches[-1].seq > 1 else None,
    )
