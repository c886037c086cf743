"""The register import's writer: its transactions written in a thread of their own, in order.

The import parses rows in the calling thread and hands each part of a transaction (register rows and
their outbox rows) to :class:`ImportWriter`. SQLite does its B-tree work inside ``sqlite3_step`` and
psycopg its network round trips with the GIL released, so the writing of one part overlaps the parsing
of the next on a second core. Transactions are the caller's: the rows of every part up to one marked
``commit`` are written in one transaction, so a register change never commits without its outbox row.
After a failed write nothing more is written: the open transaction is rolled back, later parts are
dropped, and the error is raised in the calling thread at its next hand-off or at :meth:`close`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from gateway.services.reports import OutboxRow, RegisterRow, write_rows

__all__ = ["ImportWriter"]

_Part = tuple[Sequence[RegisterRow], Sequence[RegisterRow], Sequence[OutboxRow], bool]


class ImportWriter:
    """Writes the parts handed to :meth:`write` in a thread of its own; a context manager.

    Leaving the ``with`` block normally waits for every part and raises the first write error; leaving
    it by an exception stops the thread (an uncommitted transaction is rolled back) and lets that
    exception through.
    """

    def __init__(self, factory: sessionmaker[Session], *, depth: int = 2) -> None:
        self._factory = factory
        self._queue: queue.Queue[_Part | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="register-import-writer", daemon=True)
        self._thread.start()

    def write(
        self,
        *,
        inserts: Sequence[RegisterRow],
        updates: Sequence[RegisterRow],
        outbox: Sequence[OutboxRow],
        commit: bool,
    ) -> None:
        """Queue a part (the sequences now belong to the writer); ``commit`` ends its transaction.

        Raises:
            Exception: the error of an earlier part's write (nothing is written after it).
        """
        self._raise()
        self._queue.put((inserts, updates, outbox, commit))

    def close(self) -> None:
        """Wait until every queued part is written; raise the first write error if there was one."""
        self._stop()
        self._raise()

    def __enter__(self) -> ImportWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self._error = self._error or exc  # the thread drops whatever is still queued
            self._stop()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        session: Session | None = None
        try:
            while (part := self._queue.get()) is not None:
                if self._error is not None:
                    continue  # drain: nothing is written after a failure
                inserts, updates, outbox, commit = part
                try:
                    if session is None:
                        session = self._factory()
                        session.begin()
                    write_rows(session, inserts=inserts, updates=updates, outbox=outbox)
                    if commit:
                        session.commit()
                        session.close()
                        session = None
                except BaseException as exc:  # raised again in the importing thread
                    self._error = exc
                    if session is not None:
                        session.close()  # rolls the transaction back
                        session = None
        finally:
            if session is not None:
                session.close()
