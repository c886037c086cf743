"""Effectiveness statistics (ITU-T Res. 97): ledger records, current statuses, checks and hits.

Check counters live in ``check_stats`` rows ``(day, origin, status) -> hits``. :func:`record_check`
adds, for one check:

* one row per origin country behind the answer (``"-"`` when there is none): who caused the hit;
* when there are origins, one per-check row under a marker origin, :data:`DOMESTIC` (our own
  country is among the origins) or :data:`CROSS_BORDER` (only other countries). A device blocked by
  two countries thus counts once in the totals and once for each country in ``by_origin``.

Totals per status are the ``"-"`` rows plus the two marker rows; markers start with ``*``, which no
country code does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.db.models import (
    BLACKLISTED,
    GREYLISTED,
    WHITELISTED,
    CheckEvent,
    DeviceStatus,
    LedgerRecord,
    OutboxRecord,
    RegisterEntry,
)
from ledger_node.record import Kind

__all__ = ["CROSS_BORDER", "DOMESTIC", "NO_ORIGIN", "STATUS_NAMES", "record_check", "record_checks", "stats"]

#: Origin of a check whose answer no country is behind (an unlisted IMEI).
NO_ORIGIN = "-"
#: Per-check marker: our own country is among the origins of the answer.
DOMESTIC = "*dom"
#: Per-check marker: only other countries are behind the answer.
CROSS_BORDER = "*xb"
STATUS_NAMES: dict[int, str] = {
    WHITELISTED: "WHITELISTED",
    GREYLISTED: "GREYLISTED",
    BLACKLISTED: "BLACKLISTED",
}
_BLOCKED = (GREYLISTED, BLACKLISTED)
_MARKERS = (NO_ORIGIN, DOMESTIC, CROSS_BORDER)


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return str(kind)


def _increment(session: Session, *, day: str, origin: str, status: int, count: int = 1) -> None:
    dialect = session.get_bind().dialect.name
    values = {"day": day, "origin": origin, "status": status, "hits": count}
    if dialect in ("sqlite", "postgresql"):
        upsert = sqlite_insert if dialect == "sqlite" else pg_insert
        stmt = upsert(CheckEvent).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", "origin", "status"], set_={"hits": CheckEvent.hits + count}
        )
        session.execute(stmt)
        return
    done = session.execute(
        update(CheckEvent)
        .where(CheckEvent.day == day, CheckEvent.origin == origin, CheckEvent.status == status)
        .values(hits=CheckEvent.hits + count)
    )
    if getattr(done, "rowcount", 0) == 0:
        session.execute(insert(CheckEvent).values(**values))


def _counter_origins(origins: list[str], own_country: str) -> list[str]:
    """The ``origin`` column of every counter row one check answered because of ``origins`` adds to."""
    unique = list(dict.fromkeys(origins))
    if not unique:
        return [NO_ORIGIN]
    return [*unique, DOMESTIC if own_country in unique else CROSS_BORDER]


def record_check(
    session: Session,
    *,
    status: int,
    origins: list[str],
    own_country: str,
    day: str | None = None,
    count: int = 1,
) -> None:
    """Count ``count`` status checks answered ``status`` because of ``origins`` (UTC ``day``, default today).

    Does not commit: the caller's transaction holds the increments. The HTTP layer aggregates checks
    in memory and writes them with :func:`record_checks`.
    """
    when = day if day is not None else datetime.now(UTC).date().isoformat()
    for origin in _counter_origins(origins, own_country):
        _increment(session, day=when, origin=origin, status=status, count=count)


_UPSERT_HITS = (
    "INSERT INTO check_stats (day, origin, status, hits) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (day, origin, status) DO UPDATE SET hits = check_stats.hits + excluded.hits"
)


def record_checks(session: Session, *, counts: Mapping[tuple[str, int, str], int], own_country: str) -> None:
    """Count aggregated checks: ``{(UTC day, status, comma-separated origins): count}``.

    Same counters as one :func:`record_check` per key, but the keys are first folded into counter
    rows, so each ``(day, origin, status)`` row gets one upsert: a second's worth of checks with a
    few dozen distinct origin sets costs a handful of statements. Does not commit.
    """
    rows: Counter[tuple[str, str, int]] = Counter()
    for (day, status, origins), n in counts.items():
        for origin in _counter_origins([o for o in origins.split(",") if o], own_country):
            rows[(day, origin, status)] += n
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name in ("sqlite", "postgresql"):
        # One executemany of plain SQL: this runs every second beside the HTTP workers, and
        # building an ORM statement per row held the interpreter for ~10 ms each time.
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        params = [(day, origin, status, n) for (day, origin, status), n in rows.items()]
        connection.exec_driver_sql(_UPSERT_HITS.replace("?", mark), params)
        return
    for (day, origin, status), n in rows.items():
        _increment(session, day=day, origin=origin, status=status, count=n)


def _by_status(counts: dict[int, int]) -> dict[str, int]:
    return {name: counts.get(code, 0) for code, name in STATUS_NAMES.items()}


def stats(session: Session, *, country: str) -> dict[str, Any]:
    """Everything ``GET /v1/stats`` and ``crossblock stats`` show, as plain JSON-ready values.

    ``records``: applied ledger records per country and kind; ``recoveries``: RECOVERED records per
    country; ``statuses``: devices per current status, and ``statuses_by_origin`` per country behind
    them; ``checks``: checks per status (total, ``domestic``/``cross_border`` when a country is behind
    the answer, ``by_origin``); ``blocked_attempts``: checks answered GREYLISTED or BLACKLISTED, split
    domestic (our own country blocks the device) and cross-border (only others do); ``outbox_depth``:
    our records not yet batched; ``register``: our national register per kind.
    """
    records: dict[str, dict[str, int]] = {}
    for cc, kind, n in session.execute(
        select(LedgerRecord.country, LedgerRecord.kind, func.count())
        .group_by(LedgerRecord.country, LedgerRecord.kind)
        .order_by(LedgerRecord.country, LedgerRecord.kind)
    ):
        records.setdefault(cc, {})[_kind_name(kind)] = n
    recoveries = {cc: kinds.get(Kind.RECOVERED.name, 0) for cc, kinds in records.items()}

    status_counts: dict[int, int] = {}
    by_origin: dict[str, dict[int, int]] = {}
    for status, origins, n in session.execute(
        select(DeviceStatus.status, DeviceStatus.origins, func.count()).group_by(
            DeviceStatus.status, DeviceStatus.origins
        )
    ):
        status_counts[status] = status_counts.get(status, 0) + n
        for cc in filter(None, (origins or "").split(",")):
            per = by_origin.setdefault(cc.strip(), {})
            per[status] = per.get(status, 0) + n

    totals: dict[int, int] = {}
    domestic: dict[int, int] = {}
    cross_border: dict[int, int] = {}
    hits_by_origin: dict[str, dict[int, int]] = {}
    for origin, status, n in session.execute(
        select(CheckEvent.origin, CheckEvent.status, func.sum(CheckEvent.hits)).group_by(
            CheckEvent.origin, CheckEvent.status
        )
    ):
        hits = int(n or 0)
        if origin in _MARKERS:
            totals[status] = totals.get(status, 0) + hits
            if origin != NO_ORIGIN:
                side = domestic if origin == DOMESTIC else cross_border
                side[status] = side.get(status, 0) + hits
        else:
            per = hits_by_origin.setdefault(origin, {})
            per[status] = per.get(status, 0) + hits

    outbox_depth = session.scalar(
        select(func.count()).select_from(OutboxRecord).where(OutboxRecord.batch_seq.is_(None))
    )
    register = {
        _kind_name(kind): n
        for kind, n in session.execute(
            select(RegisterEntry.kind, func.count()).group_by(RegisterEntry.kind).order_by(RegisterEntry.kind)
        )
    }
    return {
        "country": country,
        "records": records,
        "recoveries": recoveries,
        "statuses": _by_status(status_counts),
        "statuses_by_origin": {cc: _by_status(v) for cc, v in sorted(by_origin.items())},
        "checks": {
            "total": sum(totals.values()),
            "by_status": _by_status(totals),
            "domestic": _by_status(domestic),
            "cross_border": _by_status(cross_border),
            "by_origin": {cc: _by_status(v) for cc, v in sorted(hits_by_origin.items())},
        },
        "blocked_attempts": {
            "total": sum(totals.get(s, 0) for s in _BLOCKED),
            "domestic": sum(domestic.get(s, 0) for s in _BLOCKED),
            "cross_border": sum(cross_border.get(s, 0) for s in _BLOCKED),
            "by_origin": {
                cc: sum(v.get(s, 0) for s in _BLOCKED)
                for cc, v in sorted(hits_by_origin.items())
                if any(v.get(s, 0) for s in _BLOCKED)
            },
        },
        "outbox_depth": int(outbox_depth or 0),
        "register": register,
    }
