"""SQLite WAL checkpoints on a thread of their own, beside a bulk writer.

A checkpoint copies the WAL's pages into the database file and syncs it: mostly waiting for the
disk (~0.25 s of wall time but ~0.075 s of CPU for a 36 MB WAL on the development machine). SQLite's
automatic checkpoint runs inside the commit that crosses its threshold, so the writer waits for the
disk. A bulk writer instead turns the automatic checkpoint off on its own connection
(:func:`autocheckpoint_off`) and asks a :class:`WalCheckpointer` after each commit: its PASSIVE
checkpoints run on another connection while the next transaction is written (a WAL writer and
readers never wait for a passive checkpoint, nor it for them). Only when the WAL has grown past the
automatic checkpoint's bound does the writer wait for one (:meth:`WalCheckpointer.keep_wal_under`),
so that SQLite can start the WAL over: it stays about as long as automatic checkpoints keep it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine

__all__ = ["WalCheckpointer", "autocheckpoint_off"]

_log = logging.getLogger(__name__)


@contextmanager
def autocheckpoint_off(connection: Connection) -> Iterator[int]:
    """Turn SQLite's automatic checkpoint off on ``connection`` for the block (restored after it)
    and give its bound in WAL pages (0 on other databases, where nothing is done). Call it outside
    a transaction."""
    if connection.dialect.name != "sqlite":
        yield 0
        return
    before = int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())
    connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    connection.commit()
    try:
        yield before
    except BaseException:
        try:  # the block's error is the one to report; restoring is then best effort
            _restore(connection, before)
        except Exception:
            _log.warning("could not restore wal_autocheckpoint=%d", before, exc_info=True)
        raise
    _restore(connection, before)


def _restore(connection: Connection, pages: int) -> None:
    connection.rollback()  # (nothing open after a commit; after a failure, what was left)
    connection.exec_driver_sql(f"PRAGMA wal_autocheckpoint={pages}")
    connection.commit()


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a thread of its own whenever :meth:`request` was
    called since the last one (requests while one runs make one more). On other databases than
    SQLite it does nothing.

    Use as a context manager; leaving it interrupts a checkpoint in progress (SQLite then leaves the
    WAL as it was: the next checkpoint, automatic or not, copies it). A failing checkpoint is logged
    and does not stop the writer: the WAL then waits for the next one. If the thread cannot get a
    connection at all it logs that and ends; the writer then never waits for it.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wanted = threading.Event()
        self._idle = threading.Event()  # set while no checkpoint is asked for or running
        self._idle.set()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._wal_pages = 0  # the WAL's length in pages when the last checkpoint ran
        self._driver: Any = None  # the sqlite3 connection the checkpoints run on
        self._lock = threading.Lock()  # a request and the end of a checkpoint do not cross
        self._broken = False  # the thread has ended: nothing to ask or wait for
        #: Checkpoints run (for tests and measurements).
        self.runs = 0

    def __enter__(self) -> WalCheckpointer:
        if self._engine.dialect.name == "sqlite":
            self._thread = threading.Thread(target=self._run, name="crossblock-wal-checkpoint", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._thread is not None:
            self._stopping = True
            if not self._idle.is_set() and self._driver is not None:
                self._driver.interrupt()  # safe: SQLite leaves the WAL as it was, for the next one
            self._wanted.set()
            self._thread.join()

    def request(self) -> None:
        """Ask for a checkpoint (returns at once)."""
        if self._thread is not None:
            with self._lock:
                if self._broken:
                    return
                self._idle.clear()
                self._wanted.set()

    def wait(self) -> None:
        """Wait until no checkpoint is asked for or running."""
        self._idle.wait()

    def keep_wal_under(self, pages: int) -> None:
        """Call before a write transaction: if the WAL had reached ``pages`` pages when the last
        checkpoint ran, wait for the checkpoint asked for since. The transaction then finds the WAL
        wholly copied and SQLite starts it over from its beginning; otherwise a writer that never
        waits would make it grow for as long as it writes. ``pages`` 0: never wait."""
        if 0 < pages <= self._wal_pages:
            self.wait()
            self._wal_pages = 0  # the transaction starts the WAL over

    def _run(self) -> None:
        try:
            raw = self._engine.raw_connection()
        except Exception:
            _log.warning("no connection for WAL checkpoints; SQLite checkpoints the WAL later", exc_info=True)
            self._give_up()
            return
        self._driver = raw.driver_connection
        try:
            while True:
                self._wanted.wait()
                if self._stopping:
                    return
                self._wanted.clear()
                try:
                    cursor = raw.cursor()
                    try:
                        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        row = cursor.fetchone()  # (busy, pages in the WAL, pages copied)
                    finally:
                        cursor.close()
                    self._wal_pages = int(row[1]) if row else 0
                    self.runs += 1
                except Exception:
                    if not self._stopping:  # (else interrupted on purpose)
                        _log.warning("WAL checkpoint failed; the next one will catch up", exc_info=True)
                with self._lock:
                    if not self._wanted.is_set():
                        self._idle.set()
        finally:
            self._give_up()
            raw.close()

    def _give_up(self) -> None:
        """No more checkpoints: requests are ignored and nobody waits for one."""
        with self._lock:
            self._broken = True
            self._wal_pages = 0
            self._idle.set()
