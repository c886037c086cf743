"""Check counting for the effectiveness statistics, kept off the hot path.

Every answer of ``GET /v1/devices/{imei}``, ``POST /v1/devices/check`` and the N5g-eir endpoint is
counted with :meth:`CheckCounter.add` — an in-memory increment keyed by ``(day, status, origins)``.
A background thread writes the aggregated counts with
:func:`gateway.services.stats.record_checks` (one upsert per counter row and its count) every
``settings.stats_flush_seconds``, and :meth:`CheckCounter.flush` writes them at once (the stats
router calls it before reading, and the app calls it at shutdown). Counts of a worker that is
killed with SIGKILL between two flushes are lost (at most one interval's worth).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from gateway.services.stats import record_checks

__all__ = ["CheckCounter"]

log = logging.getLogger("gateway.api")

_Key = tuple[str, int, str]  # (UTC day, status code, comma-separated origins)


class CheckCounter:
    """Aggregates status checks in memory and flushes them to ``check_stats``."""

    def __init__(self, sessions: sessionmaker[Session], *, country: str, interval: float = 1.0) -> None:
        self._sessions = sessions
        self._country = country
        self._interval = interval
        self._counts: Counter[_Key] = Counter()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._day = ""
        self._day_ends = 0.0

    def _today(self) -> str:
        """The UTC day, recomputed only when the clock passes the next midnight."""
        now = time.time()
        if now >= self._day_ends:
            day = datetime.fromtimestamp(now, UTC).date()
            self._day = day.isoformat()
            self._day_ends = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86_400
        return self._day

    def add(self, status: int, origins: str, count: int = 1) -> None:
        """Count ``count`` checks answered ``status`` because of ``origins`` (comma-separated)."""
        key = (self._today(), status, origins)
        with self._lock:
            self._counts[key] += count

    def pending(self) -> int:
        """Checks counted but not yet written."""
        with self._lock:
            return sum(self._counts.values())

    def flush(self) -> int:
        """Write the pending counts in one transaction; returns the number of checks written.

        On a database error the counts are put back and retried at the next flush.
        """
        with self._flush_lock:
            with self._lock:
                counts, self._counts = self._counts, Counter()
            if not counts:
                return 0
            try:
                with self._sessions.begin() as session:
                    record_checks(session, counts=counts, own_country=self._country)
            except Exception:
                with self._lock:
                    self._counts.update(counts)
                raise
            return sum(counts.values())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:
                log.exception("cannot write check statistics; will retry")

    def start(self) -> None:
        """Start the periodic flush thread (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="check-stats-flush", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is pending."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.flush()
        except Exception:
            log.exception("cannot write check statistics at shutdown")
