"""The operator's blocklist: a streamed snapshot and a delta feed with a monotonic cursor.

Both read ``device_status``, the effective status of every IMEI this gateway ever listed, which the
syncer maintains (:mod:`gateway.services.apply`). Every change of a row's status or origins gives
the row the next ``change_id`` (``max + 1``; rows are never deleted, and a change back to
WHITELISTED is a change like any other), so ``change_id`` is the cursor of the feed:

* :func:`open_snapshot` reads every IMEI that is not WHITELISTED, in IMEI order, in chunks (keyset
  pagination on the primary key inside one read transaction: one consistent snapshot, never more
  than one chunk in memory), together with the snapshot's cursor, the highest ``change_id`` it
  covers.
* :func:`changes` returns the rows whose ``change_id`` is above a cursor, in ``change_id`` order.
  A row with status WHITELISTED is a removal from the blocklist.

A client that applies the feed from cursor 0 (or from a snapshot's cursor onto that snapshot), setting
listed IMEIs and removing WHITELISTED ones, ends with exactly the current snapshot: a row changed
after the client passed it moves above the client's cursor, so it is read again later.

Identifiers are the 14-digit IMEI core (TAC + serial number): the check digit is derived, the
software version of an IMEISV is not part of the identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from gateway.db.models import WHITELISTED
from gateway.errors import CursorAheadError, FeedRequestError
from gateway.services.apply import Sql
from gateway.services.status import STATUS_NAMES

__all__ = [
    "CHANGES_MAX_LIMIT",
    "CSV_HEADER",
    "BlocklistSnapshot",
    "Change",
    "ChangesPage",
    "CursorAheadError",
    "FeedRequestError",
    "changes",
    "feed_head",
    "open_snapshot",
]

#: Rows per keyset page of a snapshot (and per chunk of streamed output).
SNAPSHOT_CHUNK = 20_000
#: Largest page of the delta feed.
CHANGES_MAX_LIMIT = 10_000
CSV_HEADER = b"imei,status,origins\n"

# A range of the primary key (on SQLite the table's own B-tree, WITHOUT ROWID), listed rows only.
_PAGE = (
    "SELECT imei, status, origins FROM device_status "
    f"WHERE imei > ? AND status != {WHITELISTED} ORDER BY imei LIMIT ?"
)
_HEAD = "SELECT coalesce(max(change_id), 0) FROM device_status"


def _origins_csv(origins: str) -> str:
    return f'"{origins}"' if "," in origins else origins


def _origins_json(origins: str) -> str:
    return '["' + origins.replace(",", '","') + '"]' if origins else "[]"


class BlocklistSnapshot:
    """One consistent read of the blocklist; iterate :meth:`rows`, :meth:`csv` or :meth:`ndjson` once.

    Holds a database connection and a read transaction until :meth:`close` (or the end of the
    iteration, or the ``with`` block). On SQLite the transaction is a WAL read snapshot (writers
    go on); on PostgreSQL it is REPEATABLE READ. The iterators may be advanced from different threads
    one at a time (as a streaming HTTP response does).
    """

    def __init__(self, engine: Engine, *, chunk: int = SNAPSHOT_CHUNK) -> None:
        options: dict[str, Any] = {}
        if engine.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        self._chunk = max(1, chunk)
        self._conn: Connection | None = engine.connect().execution_options(**options)
        try:
            self._sql = Sql(self._conn)
            if engine.dialect.name == "sqlite":
                self._sql.run("BEGIN")
            #: The highest ``change_id`` the snapshot covers: follow :func:`changes` from here.
            self.cursor = int(self._sql.one(_HEAD)[0])
        except BaseException:
            self.close()
            raise

    def rows(self) -> Iterator[list[tuple[str, int, str]]]:
        """Chunks of ``(imei, status code, origins)`` in IMEI order; closes the snapshot at the end."""
        try:
            last = ""
            while self._conn is not None:
                page: list[tuple[str, int, str]] = self._sql.all(_PAGE, (last, self._chunk))
                if not page:
                    break
                yield page
                if len(page) < self._chunk:
                    break
                last = page[-1][0]
        finally:
            self.close()

    def _lines(self, prefix: str, tail: Callable[[int, str], str], head: bytes) -> Iterator[bytes]:
        # Per row only a concatenation: the rest of the line depends on (status, origins) alone,
        # of which there are few distinct values, so it is formatted once and cached.
        if head:
            yield head
        tails: dict[int, dict[str, str]] = {code: {} for code in STATUS_NAMES}

        def make(status: int, origins: str) -> str:
            text = tails[status][origins] = tail(status, origins)
            return text

        for page in self.rows():
            yield "".join(
                [prefix + imei + (tails[st].get(orig) or make(st, orig)) for imei, st, orig in page]
            ).encode("ascii")

    def csv(self) -> Iterator[bytes]:
        """The snapshot as CSV (``imei,status,origins``; origins comma-separated, quoted if several)."""
        return self._lines("", lambda st, orig: f",{STATUS_NAMES[st]},{_origins_csv(orig)}\n", CSV_HEADER)

    def ndjson(self) -> Iterator[bytes]:
        """The snapshot as NDJSON: ``{"imei": ..., "status": ..., "origins": [...]}`` per line."""
        return self._lines(
            '{"imei":"',
            lambda st, orig: f'","status":"{STATUS_NAMES[st]}","origins":{_origins_json(orig)}}}\n',
            b"",
        )

    def close(self) -> None:
        """End the read transaction and give the connection back (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if conn.dialect.name == "sqlite":
                    self._sql.raw.rollback()
            finally:
                conn.close()

    def __enter__(self) -> BlocklistSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_snapshot(*, engine: Engine, chunk: int = SNAPSHOT_CHUNK) -> BlocklistSnapshot:
    """Start a consistent blocklist snapshot (see :class:`BlocklistSnapshot`)."""
    return BlocklistSnapshot(engine, chunk=chunk)


@dataclass(frozen=True, slots=True)
class Change:
    """A row of the delta feed: the IMEI's status as of ``change_id`` (WHITELISTED = removed)."""

    change_id: int
    imei: str
    status: str
    origins: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChangesPage:
    """One page of the feed: ``changes`` above ``after``; continue from ``cursor`` while ``more``."""

    after: int
    cursor: int
    head: int
    more: bool
    changes: list[Change]


def feed_head(db: Session | Connection) -> int:
    """The newest ``change_id`` (0 when no status was ever stored)."""
    return int(Sql(db).one(_HEAD)[0])


def changes(db: Session | Connection, *, after: int, limit: int = 1_000) -> ChangesPage:
    """The statuses that changed after cursor ``after``, oldest first, at most ``limit`` of them.

    ``cursor`` is the ``change_id`` of the last change returned (``after`` when none); ``head`` the
    newest change id; ``more`` whether changes remain above ``cursor``.

    Raises:
        FeedRequestError: ``after`` is negative or ``limit`` is not within 1..CHANGES_MAX_LIMIT.
        CursorAheadError: ``after`` is above the newest change.
    """
    if after < 0:
        raise FeedRequestError(f"after must be >= 0, got {after}")
    if not 1 <= limit <= CHANGES_MAX_LIMIT:
        raise FeedRequestError(f"limit must be within 1..{CHANGES_MAX_LIMIT}, got {limit}")
    sql = Sql(db)
    head = int(sql.one(_HEAD)[0])
    if after > head:
        raise CursorAheadError(after, head)
    rows = sql.all(
        "SELECT change_id, imei, status, origins FROM device_status WHERE change_id > ? "
        "ORDER BY change_id LIMIT ?",
        (after, limit + 1),
    )
    more = len(rows) > limit
    items = [
        Change(int(cid), str(imei), STATUS_NAMES[int(status)], tuple(filter(None, str(origins).split(","))))
        for cid, imei, status, origins in rows[:limit]
    ]
    return ChangesPage(
        after=after, cursor=items[-1].change_id if items else after, head=head, more=more, changes=items
    )
