"""A country's log as this gateway verified and applied it (auditor view): head, batches, quarantine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import CountryLog, LedgerBatch, QuarantinedBatch

__all__ = ["CountryLogView", "country_log"]


@dataclass(frozen=True, slots=True)
class CountryLogView:
    """``batches``: a page, newest first; ``quarantined``: every held-back batch of the country."""

    country: str
    log: CountryLog | None
    batches: list[LedgerBatch]
    quarantined: list[QuarantinedBatch]


def country_log(
    session: Session, *, country: str, limit: int = 100, before: int | None = None
) -> CountryLogView:
    """The applied batches of ``country`` with seq below ``before`` (newest first, at most ``limit``),
    its log state and its quarantined batches. An unknown country has an empty view."""
    cc = country.upper()
    query = select(LedgerBatch).where(LedgerBatch.country == cc)
    if before is not None:
        query = query.where(LedgerBatch.seq < before)
    batches = list(session.scalars(query.order_by(LedgerBatch.seq.desc()).limit(limit)))
    quarantined = list(
        session.scalars(
            select(QuarantinedBatch).where(QuarantinedBatch.country == cc).order_by(QuarantinedBatch.seq)
        )
    )
    return CountryLogView(
        country=cc, log=session.get(CountryLog, cc), batches=batches, quarantined=quarantined
    )
