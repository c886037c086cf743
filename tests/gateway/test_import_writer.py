"""The register import's writer thread (gateway.services.import_writer.ChunkWriter)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DatabaseError

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.db.models import OutboxRecord, RegisterEntry
from gateway.services import import_writer
from gateway.services.import_writer import ChunkWriter, NewEntries, Rows, coalesced
from gateway.services.importer import _new_entry_columns
from ledger_node.record import Kind, Record

NOW = 1_750_000_000


def _entries(first: int, count: int) -> NewEntries:
    cores = [f"{35_000_000_000_000 + first + n:014d}" for n in range(count)]
    kinds = [int(Kind.STOLEN) if n % 2 else int(Kind.LOST) for n in range(count)]
    return _new_entry_columns(cores, kinds, [NOW - n for n in range(count)], [f"C{n}" for n in range(count)])


def test_chunks_are_written_in_order_with_the_outbox_in_segment_order(db) -> None:
    a, b = _entries(0, 5), _entries(100, 4)
    rows = Rows(inserts=[], updates=[], outbox=[(a.records[:16], "35000000000000", int(Kind.LOST), NOW)])
    with ChunkWriter(db.factory, now=NOW) as writer:
        writer.submit([a, rows])
        writer.submit([b])
    outbox = db.outbox()
    expected = [*a.outbox_rows(NOW), *rows.outbox, *b.outbox_rows(NOW)]
    assert [(bytes(r.record), r.imei, r.kind, r.created_at) for r in outbox] == [
        (bytes(rec), imei, kind, at) for rec, imei, kind, at in expected
    ]
    register = db.register()
    assert len(register) == 9
    for rec, imei, kind, _ in a.outbox_rows(NOW):
        decoded = Record.unpack(bytes(rec))
        entry = register[imei]
        assert (entry.kind, entry.reported_at, entry.case_commitment, entry.updated_at) == (
            kind, decoded.reported_at, decoded.case_commitment, NOW
        )  # fmt: skip
        assert imei == decoded.identifier


def test_consecutive_new_entries_are_joined_and_rows_stay_between() -> None:
    a, b, c = _entries(0, 3), _entries(10, 2), _entries(20, 1)
    rows = Rows(inserts=[], updates=[], outbox=[])
    joined = coalesced([a, b, rows, c])
    assert [type(s) for s in joined] == [NewEntries, Rows, NewEntries]
    assert joined[0] == NewEntries(
        imeis=a.imeis + b.imeis,
        kinds=a.kinds + b.kinds,
        times=a.times + b.times,
        salts=a.salts + b.salts,
        records=a.records + b.records,
    )
    assert joined[2] is c


def test_a_failed_chunk_stops_the_writer_and_is_raised_to_the_importer(db) -> None:
    db.fail_outbox_inserts("disk full")
    writer = ChunkWriter(db.factory, now=NOW)
    # raised by a later submit, or on leaving the block if the writer is slower than the loop
    with pytest.raises(DatabaseError, match="disk full"), writer:  # noqa: PT012
        for n in range(50):
            writer.submit([_entries(10 * n, 3)])
    assert db.register() == {}
    assert db.outbox() == []


def test_an_error_of_the_importer_drops_waiting_chunks_and_ends_the_thread(db, monkeypatch) -> None:
    started, release = threading.Event(), threading.Event()
    write = import_writer.write_segments

    def held(connection, segments, *, now):  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(30)  # the first chunk stays in progress until the importer has failed
        write(connection, segments, now=now)

    monkeypatch.setattr(import_writer, "write_segments", held)
    first, waiting = _entries(0, 3), _entries(100, 3)
    writer = ChunkWriter(db.factory, now=NOW)
    with pytest.raises(KeyboardInterrupt), writer:  # noqa: PT012 - the error inside the writer's block
        writer.submit([first])
        assert started.wait(30)
        writer.submit([waiting])  # queued behind the chunk in progress
        threading.Timer(0.2, release.set).start()
        raise KeyboardInterrupt
    assert not writer._thread.is_alive()
    # the chunk in progress is whole; the waiting one was dropped
    assert sorted(db.register()) == sorted(row[1] for row in first.outbox_rows(NOW))
    assert [r.imei for r in db.outbox()] == [row[1] for row in first.outbox_rows(NOW)]


def test_an_in_memory_database_is_written_by_the_importing_thread() -> None:
    """Each connection to ``sqlite:///:memory:`` is a database of its own: a writer thread's
    connection would write where nobody reads."""
    engine = make_engine("sqlite:///:memory:")
    try:
        migrate(engine)
        factory = session_factory(engine)
        entries = _entries(0, 4)
        with ChunkWriter(factory, now=NOW) as writer:
            writer.submit([entries])
        with factory() as session:
            imeis = session.scalars(select(RegisterEntry.imei).order_by(RegisterEntry.imei)).all()
            outbox = session.scalars(select(OutboxRecord.imei).order_by(OutboxRecord.id)).all()
        assert imeis == sorted(row[1] for row in entries.outbox_rows(NOW))
        assert outbox == [row[1] for row in entries.outbox_rows(NOW)]
    finally:
        engine.dispose()
