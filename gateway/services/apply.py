"""The store side of syncing: write verified batches, statuses, quarantine, cursor; rewind on reorg.

Every function here (and :class:`BatchWriter`) runs inside the caller's transaction (a SQLAlchemy
``Connection`` or ``Session``) and never commits: the syncer decides the transaction boundaries, so
the records, the statuses, the country log and the sync cursor that covers them always commit
together.

Speed: rows go through the driver's ``executemany`` on the transaction's own DBAPI connection with
portable SQL (``INSERT ... ON CONFLICT``, valid on SQLite ≥ 3.24 and PostgreSQL), with no ORM
objects per record; records are buffered and written sorted by primary key (:class:`BatchWriter`).
Status maintenance is incremental: only the IMEIs the written records touch are refolded.

Idempotency: a ledger record's natural key is ``(country, seq, idx)``; a batch already applied
with the same head is skipped, and quarantine rows are keyed by ``(country, seq)``.

Storage of ``LedgerRecord.kind``: the kind (1..6) for IMEI records; for other identifier types
(MEID, reserved) the whole ``typeKind`` byte (≥ 0x21). The 16 packed bytes of every record are kept in
``LedgerBatch.records``. Only IMEI records feed the latest entries (:mod:`gateway.services.entries`)
and ``DeviceStatus``.
"""

from __future__ import annotations

import itertools
import operator
import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from gateway.db.bulk import sqlite_insert_values
from gateway.db.models import WHITELISTED
from gateway.errors import SyncError
from gateway.services.entries import ENTRY_ROWS_SQL, fold_input, latest_entries
from gateway.services.status import Policy, fold
from gateway.services.verify import VerifiedBatch
from ledger_node.batch import struct_hash
from ledger_node.events import BatchEvent, SignerEvent

__all__ = [
    "FLUSH_RECORDS",
    "HELD",
    "REJECTED",
    "ZERO_HASH",
    "ApplyResult",
    "BatchWriter",
    "CountryState",
    "Db",
    "RewindResult",
    "SignerSet",
    "Sql",
    "apply_batch",
    "apply_signer_event",
    "block_country",
    "ensure_policy",
    "event_head",
    "load_country_states",
    "load_signers",
    "pack_header",
    "pack_row",
    "quarantine_batch",
    "read_cursor",
    "refold",
    "refold_all",
    "rewind_above",
    "stored_kind",
    "unpack_header",
    "write_cursor",
]

#: A transaction handle: SQLAlchemy Core connection or ORM session (its connection is used).
Db = Connection | Session

ZERO_HASH = bytes(32)
REJECTED, HELD = "rejected", "held"
POLICY_META_KEY = "status_policy"
_IMEI_TYPE = 1
_IN_CHUNK = 1_000
_RECORD = struct.Struct(">B7sI4s")
_CURSOR_IDS = itertools.count(1)  # names of server-side cursors


class Sql:
    """The transaction's own DBAPI connection, with ``?`` placeholders translated for the driver."""

    __slots__ = ("copy", "cur", "dialect", "pg", "raw")

    def __init__(self, db: Db) -> None:
        conn = db.connection() if isinstance(db, Session) else db
        self.dialect = conn.dialect.name
        self.pg = conn.dialect.paramstyle != "qmark"
        self.copy = self.dialect == "postgresql" and conn.dialect.driver == "psycopg"  # COPY FROM STDIN
        raw: Any = conn.connection.driver_connection
        self.raw = raw
        self.cur = self.raw.cursor()

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.cur.execute(self._q(sql), tuple(params))
        return int(self.cur.rowcount)

    def iterate(self, sql: str, params: Sequence[Any] = (), *, size: int = 10_000) -> Iterator[Any]:
        """Stream the rows of a query (on its own cursor, so other statements may run meanwhile).

        On PostgreSQL the cursor is a server-side one (within the caller's transaction), so the
        rows come ``size`` at a time instead of the whole result being held by the client.
        """
        cur = (
            self.raw.cursor(name=f"crossblock_iterate_{next(_CURSOR_IDS)}")
            if self.copy
            else self.raw.cursor()
        )
        try:
            cur.execute(self._q(sql), tuple(params))
            while rows := cur.fetchmany(size):
                yield from rows
        finally:
            cur.close()

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cur.executemany(self._q(sql), rows)

    def many_unnest(self, sql: str, rows: Sequence[Sequence[Any]], pg_types: Sequence[str]) -> None:
        """``executemany`` of ``sql`` (an ``INSERT ... VALUES (?, ...)``, possibly ``ON CONFLICT``).

        On PostgreSQL it runs as one statement over arrays, one per column (``VALUES (...)``
        replaced by ``SELECT * FROM unnest(?::type[], ...)``): a row-by-row ``executemany`` costs
        far more client time per row. The rows must not repeat a conflict key (as for ``VALUES``
        rows, PostgreSQL refuses to update a row twice in one statement).
        """
        if not rows:
            return
        if self.dialect != "postgresql":
            self.insert_many(sql, rows)
            return
        values = "VALUES (" + ", ".join("?" * len(pg_types)) + ")"
        arrays = ", ".join(f"?::{t}[]" for t in pg_types)
        if values not in sql:
            raise ValueError(f"not an INSERT ... {values}: {sql}")
        self.cur.execute(
            self._q(sql.replace(values, f"SELECT * FROM unnest({arrays})")),
            [list(column) for column in zip(*rows, strict=True)],
        )

    def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """``executemany`` of an ``INSERT ... VALUES (?, ...)``: on SQLite as multi-row statements."""
        if self.dialect == "sqlite":
            sqlite_insert_values(self.raw, sql, rows)
        else:
            self.cur.executemany(self._q(sql), rows)

    def copy_or_many(self, copy: str, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows``: PostgreSQL with ``copy`` (``COPY t (cols) FROM STDIN``, far faster than
        row-by-row inserts), other databases with ``sql`` through ``executemany``."""
        if not rows:
            return
        if not self.copy:
            self.insert_many(sql, rows)
            return
        with self.cur.copy(copy) as out:
            for row in rows:
                out.write_row(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.cur.execute(self._q(sql), tuple(params))
        return list(self.cur.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.cur.execute(self._q(sql), tuple(params))
        return self.cur.fetchone()

    def in_chunks(self, sql: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[Any]:
        """Run ``sql`` (containing ``IN ({})``) over ``values`` in chunks; rows concatenated."""
        out: list[Any] = []
        for start in range(0, len(values), _IN_CHUNK):
            chunk = values[start : start + _IN_CHUNK]
            out.extend(self.all(sql.format(",".join("?" * len(chunk))), (*params, *chunk)))
        return out


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else bytes(value)


# -------------------------------------------------------------------------------------- record form


def stored_kind(type_kind: int) -> int:
    """``LedgerRecord.kind`` for a record's ``typeKind`` byte (see the module docstring)."""
    return type_kind & 0x0F if type_kind >> 4 == _IMEI_TYPE else type_kind


def pack_row(imei: str, kind: int, reported_at: int, case_commitment: bytes) -> bytes:
    """The 16 packed bytes of a stored ``LedgerRecord`` (inverse of what :func:`apply_batch` stores)."""
    type_kind = (_IMEI_TYPE << 4) | kind if kind < 0x10 else kind
    return _RECORD.pack(type_kind, bytes.fromhex(imei), reported_at, _bytes(case_commitment))


def event_head(event: BatchEvent) -> bytes:
    """The head a batch event's header produces (its EIP-712 struct hash); no verification."""
    from ledger_node.batch import Batch

    return struct_hash(
        Batch(event.country, event.seq, event.prev_head, event.records_hash, event.merkle_root, event.count)
    )


def pack_header(event: BatchEvent) -> bytes:
    """Quarantine header blob: ``prevHead|recordsHash|merkleRoot|count(u32)|signer(20)|signature``."""
    return (
        event.prev_head
        + event.records_hash
        + event.merkle_root
        + event.count.to_bytes(4, "big")
        + bytes.fromhex(event.signer[2:])
        + event.signature
    )


def unpack_header(blob: bytes) -> dict[str, Any]:
    """Inverse of :func:`pack_header`."""
    blob = _bytes(blob)
    return {
        "prev_head": blob[0:32],
        "records_hash": blob[32:64],
        "merkle_root": blob[64:96],
        "count": int.from_bytes(blob[96:100], "big"),
        "signer": "0x" + blob[100:120].hex(),
        "signature": blob[120:],
    }


# ------------------------------------------------------------------------------------------- state


@dataclass(slots=True)
class CountryState:
    """A country's log as applied here."""

    last_seq: int = 0
    head: bytes = ZERO_HASH
    blocked_seq: int | None = None


def load_country_states(db: Db) -> dict[str, CountryState]:
    """Every ``CountryLog`` row."""
    sql = Sql(db)
    return {
        cc: CountryState(int(seq), _bytes(head), None if blocked is None else int(blocked))
        for cc, seq, head, blocked in sql.all("SELECT country, last_seq, head, blocked_seq FROM country_logs")
    }


@dataclass(slots=True)
class SignerSet:
    """Signing keys per country with the blocks they are active in (``active_from <= b < revoked_at``)."""

    keys: dict[tuple[str, str], tuple[int, int | None]] = field(default_factory=dict)

    def active(self, country: str, signer: str, block: int) -> bool:
        """Whether ``signer`` may sign for ``country`` at ``block``."""
        interval = self.keys.get((country, signer.lower()))
        if interval is None:
            return False
        start, end = interval
        return start <= block and (end is None or block < end)

    def add(self, event: SignerEvent) -> None:
        """Apply a signer event in memory (mirror of :func:`apply_signer_event`)."""
        key = (event.country, event.signer.lower())
        if event.active:
            self.keys[key] = (event.block, None)
        else:
            start, _ = self.keys.get(key, (event.block, None))
            self.keys[key] = (start, event.block)


def load_signers(db: Db) -> SignerSet:
    """Every ``SignerKey`` row."""
    sql = Sql(db)
    rows = sql.all("SELECT country, signer, active_from, revoked_at FROM signer_keys")
    return SignerSet(
        {(cc, signer.lower()): (int(a), None if r is None else int(r)) for cc, signer, a, r in rows}
    )


def apply_signer_event(db: Db, event: SignerEvent) -> None:
    """Record a ``SignerAdded`` / ``SignerRevoked`` event in ``SignerKey`` (idempotent)."""
    sql = Sql(db)
    if event.active:
        sql.run(
            "INSERT INTO signer_keys (country, signer, active_from, revoked_at) VALUES (?, ?, ?, NULL) "
            "ON CONFLICT (country, signer) DO UPDATE SET active_from = excluded.active_from",
            (event.country, event.signer, event.block),
        )
    else:
        # The contract only revokes a key it added; if the add was never seen, the key gets an empty
        # interval (never active) rather than being active before its revocation.
        sql.run(
            "INSERT INTO signer_keys (country, signer, active_from, revoked_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (country, signer) DO UPDATE SET revoked_at = excluded.revoked_at",
            (event.country, event.signer, event.block, event.block),
        )


def read_cursor(db: Db) -> tuple[int, bytes] | None:
    """``(block_number, block_hash)`` of the sync cursor, or None before the first sync."""
    row = Sql(db).one("SELECT block_number, block_hash FROM sync_cursor WHERE id = 1")
    return None if row is None else (int(row[0]), _bytes(row[1]))


def write_cursor(
    db: Db, *, block_number: int, block_hash: bytes, seen: Iterable[tuple[int, bytes]], keep: int
) -> None:
    """Move the cursor and remember recent block hashes (the newest ``keep`` are kept)."""
    sql = Sql(db)
    sql.run(
        "INSERT INTO sync_cursor (id, block_number, block_hash) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, "
        "block_hash = excluded.block_hash",
        (block_number, block_hash),
    )
    rows = sorted(set(seen))
    sql.many(
        "INSERT INTO seen_blocks (number, hash) VALUES (?, ?) "
        "ON CONFLICT (number) DO UPDATE SET hash = excluded.hash",
        rows,
    )
    sql.run(
        "DELETE FROM seen_blocks WHERE number < "
        "(SELECT number FROM seen_blocks ORDER BY number DESC LIMIT 1 OFFSET ?)",
        (max(keep, 1) - 1,),
    )


# ------------------------------------------------------------------------------------------- apply


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What applying one batch changed."""

    records: int
    status_changes: int
    skipped: bool = False


_INSERT_BATCH = (
    "INSERT INTO ledger_batches (country, seq, prev_head, head, records_hash, merkle_root, count, signer, "
    "signature, block_number, block_hash, tx_hash, log_index, records) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_RECORD = (
    "INSERT INTO ledger_records (imei, country, seq, idx, kind, reported_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_COPY_RECORDS = "COPY ledger_records (imei, country, seq, idx, kind, reported_at) FROM STDIN"
_UPSERT_STATUS = (
    "INSERT INTO device_status (imei, status, origins, change_id) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (imei) DO UPDATE SET status = excluded.status, origins = excluded.origins, "
    "change_id = excluded.change_id"
)
#: PostgreSQL column types of the status upsert's rows (for :meth:`Sql.many_unnest`).
_STATUS_TYPES = ("varchar", "integer", "text", "bigint")
_UPSERT_LOG = (
    "INSERT INTO country_logs (country, last_seq, head, blocked_seq) VALUES (?, ?, ?, NULL) "
    "ON CONFLICT (country) DO UPDATE SET last_seq = excluded.last_seq, head = excluded.head"
)
_by_imei = operator.itemgetter(0)
#: Records buffered by a :class:`BatchWriter` before they are written (bounds its memory).
FLUSH_RECORDS = 100_000


class BatchWriter:
    """Stores verified batches within the caller's transaction, writing their records in bulk.

    :meth:`add` stores a batch's ``LedgerBatch`` row (with its packed records) and ``CountryLog`` at
    once and buffers its ``LedgerRecord`` rows; :meth:`flush` (also run by :meth:`add` when
    :data:`FLUSH_RECORDS` rows wait) writes the buffered rows sorted by primary key, so that
    neighbouring rows share B-tree pages, and refolds the ``DeviceStatus`` of the IMEIs they touch,
    each once however many of the batches touched it. The caller must flush before it commits (the
    syncer flushes once per chunk, right before it moves the cursor).

    Relies on the invariant that ``DeviceStatus`` is the fold of the latest entries under ``policy``
    (kept by every function here, and re-established by :func:`ensure_policy` after a policy
    change), so the old status of a touched IMEI is folded from its entries before the flush instead
    of being read back.
    """

    def __init__(self, db: Db, *, policy: Policy, flush_records: int = FLUSH_RECORDS) -> None:
        self.sql = Sql(db)
        self.policy = policy
        self.flush_records = flush_records
        self._rows: list[tuple[str, str, int, int, int, int]] = []

    def add(self, verified: VerifiedBatch) -> ApplyResult:
        """Store a verified batch (idempotent: a batch already stored with the same head is skipped).

        ``status_changes`` of the result counts a flush this call triggered, if any.

        Raises:
            SyncError: a different batch is already stored at this ``(country, seq)``.
        """
        sql = self.sql
        ev = verified.event
        cc, seq = ev.country, ev.seq
        existing = sql.one("SELECT head FROM ledger_batches WHERE country = ? AND seq = ?", (cc, seq))
        if existing is not None:
            if _bytes(existing[0]) != verified.head:
                raise SyncError(
                    f"{cc}#{seq}: the database holds a different batch (head "
                    f"0x{_bytes(existing[0]).hex()}) than the chain (head 0x{verified.head.hex()}); "
                    "run `crossblock audit verify`"
                )
            return ApplyResult(records=0, status_changes=0, skipped=True)
        pos = ev.position
        sql.run(
            _INSERT_BATCH,
            (
                cc, seq, ev.prev_head, verified.head, ev.records_hash, ev.merkle_root, ev.count, ev.signer,
                ev.signature, pos.block_number, pos.block_hash, pos.tx_hash, pos.log_index, ev.records,
            ),
        )  # fmt: skip
        records = verified.records
        self._rows.extend(
            (ident, cc, seq, i, tk & 0x0F if tk >> 4 == _IMEI_TYPE else tk, at)
            for i, (tk, ident, at, _com) in enumerate(records)
        )
        sql.run(_UPSERT_LOG, (cc, seq, verified.head))
        changes = self.flush() if len(self._rows) >= self.flush_records else 0
        return ApplyResult(records=len(records), status_changes=changes)

    def flush(self) -> int:
        """Write the buffered records and the statuses they change; returns the status changes."""
        rows = self._rows
        if not rows:
            return 0
        self._rows = []
        # By IMEI, stably: neighbouring rows share B-tree pages, and an IMEI's rows stay in chain
        # order, so the last of them is its latest.
        rows.sort(key=_by_imei)
        sql = self.sql
        imei_rows = [row for row in rows if row[4] < 0x10]  # IMEI records feed the statuses
        last = {row[0]: row for row in imei_rows}  # per IMEI, its last row here
        several: dict[str, dict[str, int]] = {}  # IMEIs with several rows here: each country's latest kind
        if len(last) < len(imei_rows):
            counts = Counter(map(_by_imei, imei_rows))
            for imei, cc, _seq, _idx, kind, _at in imei_rows:
                if counts[imei] > 1:
                    several.setdefault(imei, {})[cc] = kind
        before = latest_entries(sql.in_chunks(ENTRY_ROWS_SQL, list(last)))
        sql.copy_or_many(_COPY_RECORDS, _INSERT_RECORD, rows)
        policy = self.policy
        honours, kind_status = policy.honours, policy.kind_status
        changed: list[tuple[str, int, str]] = []
        for imei, (_imei, cc, _seq, _idx, kind, _at) in last.items():
            entries = before.get(imei)
            if entries is None and imei not in several:  # the IMEI's first record here: the common case
                status = kind_status.get(kind, WHITELISTED) if cc in honours else WHITELISTED
                if status != WHITELISTED:
                    changed.append((imei, status, cc))
                continue
            old_kinds = {} if entries is None else {c: entry[0] for c, entry in entries.items()}
            old = fold(sorted(old_kinds.items()), policy)
            new = fold(sorted({**old_kinds, **(several.get(imei) or {cc: kind})}.items()), policy)
            if new != old:
                changed.append((imei, *new))
        if not changed:
            return 0
        first = int(sql.one("SELECT coalesce(max(change_id), 0) FROM device_status")[0]) + 1
        sql.many_unnest(
            _UPSERT_STATUS,
            [(imei, st, origins, first + n) for n, (imei, st, origins) in enumerate(changed)],
            _STATUS_TYPES,
        )
        return len(changed)


def apply_batch(db: Db, verified: VerifiedBatch, *, policy: Policy) -> ApplyResult:
    """Store one verified batch: ``LedgerBatch``, its ``LedgerRecord`` rows, the ``DeviceStatus`` of
    the IMEIs it touches and ``CountryLog`` (a :class:`BatchWriter` of one batch, flushed).

    Idempotent: a batch already stored with the same head is skipped.

    Raises:
        SyncError: a different batch is already stored at this ``(country, seq)``.
    """
    writer = BatchWriter(db, policy=policy)
    result = writer.add(verified)
    changes = writer.flush()
    return ApplyResult(
        records=result.records, status_changes=result.status_changes + changes, skipped=result.skipped
    )


def refold(db: Db, imeis: Sequence[str], *, policy: Policy) -> int:
    """Recompute ``DeviceStatus`` of ``imeis`` from their latest entries; returns rows changed.

    A row changes only when its status or origins change, and then gets the next ``change_id``
    (``max + 1``: the syncer is the only writer of ``device_status`` and never deletes a row, so
    change ids only grow). An IMEI that was never listed and folds to WHITELISTED gets no row.
    """
    if not imeis:
        return 0
    sql = Sql(db)
    entries = latest_entries(sql.in_chunks(ENTRY_ROWS_SQL, imeis))
    current = {
        imei: (status, origins)
        for imei, status, origins in sql.in_chunks(
            "SELECT imei, status, origins FROM device_status WHERE imei IN ({})", imeis
        )
    }
    unlisted = (WHITELISTED, "")
    changed: list[tuple[str, int, str, int]] = []
    next_id = 0
    for imei in imeis:
        new = fold(fold_input(entries.get(imei, {})), policy)
        if current.get(imei, unlisted) != new:
            if not next_id:
                next_id = int(sql.one("SELECT coalesce(max(change_id), 0) FROM device_status")[0]) + 1
            changed.append((imei, new[0], new[1], next_id))
            next_id += 1
            current[imei] = new  # a repeated IMEI in ``imeis`` is not counted twice
    sql.many_unnest(_UPSERT_STATUS, changed, _STATUS_TYPES)
    return len(changed)


def refold_all(db: Db, *, policy: Policy, chunk: int = 5_000) -> int:
    """Recompute every ``DeviceStatus`` (after a policy change); returns rows changed."""
    sql = Sql(db)
    imeis = [
        row[0] for row in sql.all("SELECT DISTINCT imei FROM ledger_records WHERE kind < 16 ORDER BY imei")
    ]
    imeis += [
        row[0]
        for row in sql.all(
            "SELECT imei FROM device_status "
            "WHERE imei NOT IN (SELECT imei FROM ledger_records WHERE kind < 16) ORDER BY imei"
        )
    ]
    return sum(refold(db, imeis[i : i + chunk], policy=policy) for i in range(0, len(imeis), chunk))


def ensure_policy(db: Db, *, policy: Policy) -> bool:
    """Refold every status if the policy differs from the one the statuses were folded with.

    Returns True when a refold ran. The policy fingerprint is kept in ``Meta``.
    """
    sql = Sql(db)
    row = sql.one("SELECT value FROM meta WHERE key = ?", (POLICY_META_KEY,))
    fingerprint = policy.fingerprint()
    if row is not None and row[0] == fingerprint:
        return False
    refold_all(db, policy=policy)
    sql.run(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (POLICY_META_KEY, fingerprint),
    )
    return True


# -------------------------------------------------------------------------------------- quarantine


def quarantine_batch(db: Db, event: BatchEvent, *, state: str, reason: str, detected_at: int) -> bool:
    """Keep a batch that is not applied: ``rejected`` (failed verification) or ``held`` (behind one).

    Returns False if it was already quarantined (idempotent).
    """
    pos = event.position
    count = Sql(db).run(
        "INSERT INTO quarantine (country, seq, state, reason, block_number, block_hash, tx_hash, log_index, "
        "header, records, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (country, seq) DO NOTHING",
        (
            event.country, event.seq, state, reason, pos.block_number, pos.block_hash, pos.tx_hash,
            pos.log_index, pack_header(event), event.records, detected_at,
        ),
    )  # fmt: skip
    return count != 0


def block_country(db: Db, *, country: str, seq: int) -> None:
    """Mark ``country``'s log blocked at ``seq``: nothing of it is applied from there on."""
    Sql(db).run(
        "INSERT INTO country_logs (country, last_seq, head, blocked_seq) VALUES (?, 0, ?, ?) "
        "ON CONFLICT (country) DO UPDATE SET blocked_seq = excluded.blocked_seq",
        (country, ZERO_HASH, seq),
    )


# ------------------------------------------------------------------------------------------ rewind


@dataclass(frozen=True, slots=True)
class RewindResult:
    """What a rewind removed."""

    block: int
    batches: int
    records: int
    quarantined: int
    status_changes: int


def rewind_above(db: Db, *, block: int, policy: Policy) -> RewindResult:
    """Undo everything applied from blocks above ``block`` (a chain reorganisation).

    Deletes the batches, their records, quarantine rows and signer changes of those blocks, refolds
    the statuses of the IMEIs those records named (from the records that remain),
    resets the ``CountryLog`` of the affected countries and forgets the seen blocks above ``block``.
    The caller moves the sync cursor to ``block``.
    """
    sql = Sql(db)
    batches = [(cc, int(seq)) for cc, seq in sql.all(
        "SELECT country, seq FROM ledger_batches WHERE block_number > ? ORDER BY country, seq", (block,)
    )]  # fmt: skip
    # By (country, seq), not from the stored packed records: what is undone must not depend on
    # them. ledger_records has no (country, seq) index, so each country's rows are one scan; a
    # reorganisation is rare and near the tip.
    imeis: set[str] = set()
    removed_records = 0
    for cc, group in itertools.groupby(batches, key=operator.itemgetter(0)):
        seqs = [seq for _cc, seq in group]
        for start in range(0, len(seqs), _IN_CHUNK):
            chunk = seqs[start : start + _IN_CHUNK]
            where = f"country = ? AND seq IN ({','.join('?' * len(chunk))})"
            imeis.update(
                row[0] for row in sql.all(f"SELECT imei FROM ledger_records WHERE {where}", (cc, *chunk))
            )
            removed_records += sql.run(f"DELETE FROM ledger_records WHERE {where}", (cc, *chunk))
    sql.run("DELETE FROM ledger_batches WHERE block_number > ?", (block,))
    quarantined = sql.all("SELECT DISTINCT country FROM quarantine WHERE block_number > ?", (block,))
    removed_quarantine = sql.run("DELETE FROM quarantine WHERE block_number > ?", (block,))
    sql.run("DELETE FROM signer_keys WHERE active_from > ?", (block,))
    sql.run("UPDATE signer_keys SET revoked_at = NULL WHERE revoked_at > ?", (block,))
    changes = refold(db, sorted(imeis), policy=policy)
    for cc in sorted({cc for cc, _ in batches} | {row[0] for row in quarantined}):
        last = sql.one(
            "SELECT seq, head FROM ledger_batches WHERE country = ? ORDER BY seq DESC LIMIT 1", (cc,)
        )
        blocked = sql.one("SELECT min(seq) FROM quarantine WHERE country = ? AND state = ?", (cc, REJECTED))
        sql.run(
            "INSERT INTO country_logs (country, last_seq, head, blocked_seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (country) DO UPDATE SET last_seq = excluded.last_seq, head = excluded.head, "
            "blocked_seq = excluded.blocked_seq",
            (
                cc,
                0 if last is None else int(last[0]),
                ZERO_HASH if last is None else _bytes(last[1]),
                None if blocked is None or blocked[0] is None else int(blocked[0]),
            ),
        )
    sql.run("DELETE FROM seen_blocks WHERE number > ?", (block,))
    return RewindResult(
        block=block,
        batches=len(batches),
        records=removed_records,
        quarantined=removed_quarantine,
        status_changes=changes,
    )
