"""WAL checkpoints on a thread of their own (gateway.db.checkpoint) beside a bulk writer."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection

from gateway.db.checkpoint import WalCheckpointer, autocheckpoint_off
from gateway.db.engine import make_engine


def _write_rows(connection: Connection, rows: int) -> None:
    with connection.begin():
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB)")
        connection.exec_driver_sql("INSERT INTO t (v) VALUES (?)", [(os.urandom(200),) for _ in range(rows)])


def test_checkpoints_copy_the_wal_while_the_writer_keeps_its_own_off(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            with WalCheckpointer(engine) as checkpoints, autocheckpoint_off(connection):
                assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
                connection.commit()
                _write_rows(connection, 20_000)  # ~5 MB: more than SQLite's default threshold
                assert path.stat().st_size < 1_000_000  # still all in the WAL: no automatic checkpoint
                checkpoints.request()
                checkpoints.wait()
                assert checkpoints.runs == 1
            assert path.stat().st_size > 4_000_000  # the pages are in the database file now
            # the connection's own setting is back (the engine sets 10,000 pages on connect)
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 10_000
            busy, frames, copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            assert (busy, copied) == (0, frames)
    finally:
        engine.dispose()


def test_leaving_without_a_request_runs_no_checkpoint(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.sqlite'}")
    try:
        with WalCheckpointer(engine) as checkpoints:
            pass
        assert checkpoints.runs == 0
    finally:
        engine.dispose()


def test_other_databases_are_left_alone(database_url: str) -> None:
    """On PostgreSQL both are no-ops; on SQLite the connection's setting comes back after the block."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection, WalCheckpointer(engine) as checkpoints:
            with autocheckpoint_off(connection):
                assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 10_000
            else:
                checkpoints.request()
        assert checkpoints.runs == 0
    finally:
        engine.dispose()


def test_a_writer_past_the_bound_waits_and_the_wal_starts_over(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.sqlite'}")
    try:
        with (
            engine.connect() as connection,
            WalCheckpointer(engine) as checkpoints,
            autocheckpoint_off(connection) as bound,
        ):
            assert bound == 10_000  # the engine's setting, in pages
            _write_rows(connection, 20_000)
            checkpoints.request()
            checkpoints.wait()
            assert checkpoints.runs == 1
            _write_rows(connection, 20_000)  # appended: the WAL was not started over yet
            checkpoints.request()
            checkpoints.keep_wal_under(1_000)  # the WAL had ~1,300 pages: waits for the checkpoint
            assert checkpoints.runs == 2
            _write_rows(connection, 100)  # starts the WAL over: a few pages long
            _busy, pages, _copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            connection.commit()
            assert pages < 100
    finally:
        engine.dispose()


def test_leaving_during_a_checkpoint_leaves_the_database_whole(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.sqlite'}")
    try:
        with engine.connect() as connection:
            with WalCheckpointer(engine) as checkpoints, autocheckpoint_off(connection):
                _write_rows(connection, 40_000)
                checkpoints.request()  # leaving at once: interrupted, or not yet begun, or done
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 40_000
            connection.commit()
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")  # the next one copies all
            busy, pages, copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            assert (busy, copied) == (0, pages)
    finally:
        engine.dispose()


def test_without_a_connection_the_writer_never_waits(tmp_path: Path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'g.sqlite'}")

    def no_connection() -> None:
        raise OSError("too many open files")

    monkeypatch.setattr(engine, "raw_connection", no_connection)
    try:
        with WalCheckpointer(engine) as checkpoints:
            checkpoints.request()
            checkpoints.wait()  # returns: the thread gave up
            checkpoints.keep_wal_under(1)
            checkpoints.request()  # ignored
            checkpoints.wait()
        assert checkpoints.runs == 0
        assert "no connection for WAL checkpoints" in caplog.text
    finally:
        engine.dispose()
