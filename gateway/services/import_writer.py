"""The register import's writes: new entries held column by column, and a thread that writes them.

The import reads and plans rows on the calling thread and hands each chunk of changes to a
:class:`ChunkWriter`, which writes the chunks in order on a thread of its own, each chunk in one
transaction (register rows and outbox rows together, as ever). The database works while the next
chunk is planned: on SQLite a block of new entries is one set-based ``INSERT ... SELECT`` per table
(:data:`_REGISTER_SQL`, :data:`_OUTBOX_SQL`) that expands the block's columns inside SQLite, so the
writer holds the interpreter only to bind six parameters and the rest of the work runs beside the
planning. On other databases the block is written as rows (:func:`gateway.services.reports.write_rows`).

The first failure stops the writer: no later chunk is written, and the failure is raised to the
importing thread at its next :meth:`ChunkWriter.submit` or at :meth:`ChunkWriter.close`. Chunks
written before it stay whole, and importing again finishes the job (an import is a diff).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.checkpoint import WalCheckpointer, autocheckpoint_off
from gateway.services.reports import OutboxRow, RegisterRow, write_rows
from ledger_node.record import COMMITMENT_SIZE, IDENTIFIER_CHARS, RECORD_SIZE, SALT_SIZE

__all__ = ["ASCII_DIGITS", "ChunkWriter", "NewEntries", "Rows", "Segment", "coalesced", "write_segments"]

#: A digit 0-9 to its ASCII character (kinds travel as one ASCII digit each: blocking kinds are 1-5).
ASCII_DIGITS = bytes.maketrans(bytes(range(10)), b"0123456789")
_DIGIT_VALUES = bytes.maketrans(b"0123456789", bytes(range(10)))  # and back

# ``substr`` of a BLOB counts bytes (of TEXT it would count characters from the start, each time),
# so every column travels as a BLOB of fixed-width fields; ``json_each`` over the times numbers the
# rows (``key`` 0, 1, ...). The outbox is filled in the block's order; the register in any (sorting by
# IMEI first costs more than the primary-key index saves by it).
_REGISTER_SQL = f"""
INSERT INTO register_entries (kind, reported_at, case_salt, case_commitment, updated_at, imei)
SELECT CAST(substr(:kinds, j.key + 1, 1) AS INTEGER), j.value,
       substr(:salts, {SALT_SIZE} * j.key + 1, {SALT_SIZE}),
       substr(:records, {RECORD_SIZE} * j.key + {RECORD_SIZE - COMMITMENT_SIZE + 1}, {COMMITMENT_SIZE}),
       :now, CAST(substr(:imeis, {IDENTIFIER_CHARS} * j.key + 1, {IDENTIFIER_CHARS}) AS TEXT)
FROM json_each(:times) AS j
"""
_OUTBOX_SQL = f"""
INSERT INTO outbox (record, imei, kind, created_at)
SELECT substr(:records, {RECORD_SIZE} * j.key + 1, {RECORD_SIZE}),
       CAST(substr(:imeis, {IDENTIFIER_CHARS} * j.key + 1, {IDENTIFIER_CHARS}) AS TEXT),
       CAST(substr(:kinds, j.key + 1, 1) AS INTEGER), :now
FROM json_each(:times) AS j ORDER BY j.key
"""


@dataclass(frozen=True, slots=True)
class NewEntries:
    """New register entries (each with its outbox record), column by column: entry ``i`` is field
    ``i`` of every column.

    ``imeis``: 14 ASCII digits each; ``kinds``: one ASCII digit each (a blocking kind); ``times``:
    ``reported_at``; ``salts``: 32 bytes each; ``records``: the 16-byte packed records, whose last
    4 bytes are the case commitments.
    """

    imeis: bytes
    kinds: bytes
    times: list[int]
    salts: bytes
    records: bytes

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def joined(cls, parts: Sequence[NewEntries]) -> NewEntries:
        """``parts`` as one block, in order."""
        if len(parts) == 1:
            return parts[0]
        return cls(
            imeis=b"".join(p.imeis for p in parts),
            kinds=b"".join(p.kinds for p in parts),
            times=[at for p in parts for at in p.times],
            salts=b"".join(p.salts for p in parts),
            records=b"".join(p.records for p in parts),
        )

    def kind_values(self) -> bytes:
        """The kinds as numbers, one byte each."""
        return self.kinds.translate(_DIGIT_VALUES)

    def register_rows(self, now: int) -> list[RegisterRow]:
        """The entries as :func:`write_rows` register rows (sorted by IMEI)."""
        rows = list(
            zip(
                self.kind_values(),
                self.times,
                _fields(self.salts, SALT_SIZE),
                _fields(self.records[RECORD_SIZE - COMMITMENT_SIZE :], RECORD_SIZE, COMMITMENT_SIZE),
                [now] * len(self),
                _fields(self.imeis.decode("ascii"), IDENTIFIER_CHARS),
                strict=True,
            )
        )
        rows.sort(key=lambda row: row[5])
        return rows

    def outbox_rows(self, now: int) -> list[OutboxRow]:
        """The entries' records as :func:`write_rows` outbox rows, in order."""
        return list(
            zip(
                _fields(self.records, RECORD_SIZE),
                _fields(self.imeis.decode("ascii"), IDENTIFIER_CHARS),
                self.kind_values(),
                [now] * len(self),
                strict=True,
            )
        )


def _fields(data: Any, step: int, width: int | None = None) -> list[Any]:
    size = step if width is None else width
    return [data[start : start + size] for start in range(0, len(data), step)]


@dataclass(frozen=True, slots=True)
class Rows:
    """Register inserts and updates and outbox rows, as :func:`write_rows` takes them."""

    inserts: Sequence[RegisterRow]
    updates: Sequence[RegisterRow]
    outbox: Sequence[OutboxRow]


#: One part of a chunk; a chunk's segments are written in order (its outbox keeps the file's order).
Segment = NewEntries | Rows


def coalesced(segments: Sequence[Segment]) -> list[Segment]:
    """``segments`` with each run of consecutive :class:`NewEntries` joined into one (fewer, larger
    statements: the writer then waits for the interpreter a few times per chunk, not per block)."""
    out: list[Segment] = []
    run: list[NewEntries] = []
    for segment in segments:
        if isinstance(segment, NewEntries):
            run.append(segment)
            continue
        if run:
            out.append(NewEntries.joined(run))
            run = []
        out.append(segment)
    if run:
        out.append(NewEntries.joined(run))
    return out


def write_segments(connection: Connection, segments: Sequence[Segment], *, now: int) -> None:
    """Write ``segments`` in order, in the caller's transaction."""
    for segment in segments:
        if isinstance(segment, Rows):
            write_rows(connection, inserts=segment.inserts, updates=segment.updates, outbox=segment.outbox)
        elif connection.dialect.name == "sqlite":
            _write_new_entries_sqlite(connection, segment, now=now)
        else:
            write_rows(
                connection, inserts=segment.register_rows(now), updates=(), outbox=segment.outbox_rows(now)
            )


def _write_new_entries_sqlite(connection: Connection, entries: NewEntries, *, now: int) -> None:
    params = {
        "kinds": entries.kinds,
        "times": json.dumps(entries.times),
        "salts": entries.salts,
        "records": entries.records,
        "imeis": entries.imeis,
        "now": now,
    }
    connection.exec_driver_sql(_REGISTER_SQL, params)
    connection.exec_driver_sql(_OUTBOX_SQL, params)


_STOP = None


class ChunkWriter:
    """Writes chunks (lists of segments) in order on a thread of its own, one transaction each.

    Use as a context manager: leaving the block normally waits for every chunk to be written and
    raises the writer's failure, if any; leaving it by an exception stops the writer after the
    chunk in progress (chunks not yet started are dropped) and lets the exception through.
    At most ``depth`` chunks wait in line, so memory stays bounded when the database is slower.
    """

    def __init__(self, factory: sessionmaker[Session], *, now: int, depth: int = 1) -> None:
        self._factory = factory
        self._engine = factory().get_bind().engine
        self._now = now
        self._queue: queue.Queue[list[Segment] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crossblock-import-writer", daemon=True)
        # An in-memory SQLite database exists only on its own connection (one per thread): there,
        # chunks are written by the importing thread itself, at submit.
        url = self._engine.url
        self._inline = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")

    def __enter__(self) -> ChunkWriter:
        if not self._inline:
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._inline:
            return
        if kind is not None:
            self._abandon.set()
        self._put(_STOP, raising=False)
        self._thread.join()
        if kind is None and self._error is not None:
            raise self._error

    def submit(self, segments: list[Segment]) -> None:
        """Queue a chunk (waits while ``depth`` chunks are waiting); raises the writer's failure."""
        if self._inline:
            with self._factory.begin() as session:
                write_segments(session.connection(), coalesced(segments), now=self._now)
            return
        self._put(coalesced(segments), raising=True)

    def _put(self, item: list[Segment] | None, *, raising: bool) -> None:
        while True:
            if self._error is not None and raising:
                raise self._error
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    return

    def _run(self) -> None:
        try:
            with (
                self._engine.connect() as connection,
                WalCheckpointer(self._engine) as checkpoints,
                autocheckpoint_off(connection) as wal_bound,
            ):
                self._write_chunks(connection, checkpoints, wal_bound)
        except BaseException as exc:  # handed to the importing thread
            if self._error is None:
                self._error = exc
        finally:
            while self._queue.get() is not _STOP:  # release a waiting submit
                pass

    def _write_chunks(self, connection: Connection, checkpoints: WalCheckpointer, wal_bound: int) -> None:
        while (segments := self._queue.get()) is not _STOP:
            if self._abandon.is_set():
                continue  # drop it; keep taking chunks until told to stop
            checkpoints.keep_wal_under(wal_bound)
            with connection.begin():
                write_segments(connection, segments, now=self._now)
            checkpoints.request()
        self._queue.put(_STOP)  # for the drain in _run
