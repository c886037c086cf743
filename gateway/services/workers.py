"""The gateway's background loops: publish the outbox, follow the ledger.

A served gateway (``crossblock serve``) runs both in threads next to the HTTP workers, so a
regulator's report accepted over HTTP reaches the ledger without anyone running ``crossblock
publish``, and operators see other countries' records without a separate ``crossblock sync``.
Each loop survives node outages: it logs the error, keeps it for ``/readyz`` and retries with
backoff. :class:`WorkerState` is what the health and metrics endpoints read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.context import GatewayContext
from gateway.errors import GatewayError
from gateway.services.publisher import Publisher, PublishReport
from gateway.services.syncer import Syncer, SyncReport
from ledger_node.errors import CrossBlockError

__all__ = ["GatewayWorkers", "LoopState", "WorkerState"]

log = logging.getLogger(__name__)
_MAX_BACKOFF = 30.0


@dataclass
class LoopState:
    """Health of one background loop."""

    running: bool = False
    runs: int = 0
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    def ok(self, now: float) -> None:
        self.runs += 1
        self.last_success = now
        self.last_error = None

    def failed(self, now: float, error: Exception) -> None:
        self.runs += 1
        self.last_error = f"{type(error).__name__}: {error}"
        self.last_error_at = now


@dataclass
class WorkerState:
    """Health of the publisher and syncer loops, and the latest chain height the syncer saw."""

    publisher: LoopState
    syncer: LoopState
    synced_block: int | None = None
    records_published: int = 0
    records_synced: int = 0


class GatewayWorkers:
    """Runs the publisher and the syncer of one gateway in background threads.

    ``publish``/``sync`` choose the loops; ``interval`` is the pause between runs when idle.
    The publisher cuts partial batches once they are ``batch_max_age`` seconds old (settings).
    """

    def __init__(
        self,
        context: GatewayContext,
        *,
        publish: bool = True,
        sync: bool = True,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.context = context
        self.publish = publish
        self.sync = sync
        self.interval = interval
        self.clock = clock
        self.state = WorkerState(publisher=LoopState(), syncer=LoopState())
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._syncer: Syncer | None = None

    def start(self) -> None:
        """Start the enabled loops (idempotent)."""
        if self._threads:
            return
        self._stop.clear()
        if self.publish:
            self._threads.append(threading.Thread(target=self._publish_loop, name="publisher", daemon=True))
        if self.sync:
            self._threads.append(threading.Thread(target=self._sync_loop, name="syncer", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loops to stop after their current step and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        if self._syncer is not None:
            self._syncer.close()
            self._syncer = None

    def _loop(self, state: LoopState, step: Callable[[], None]) -> None:
        state.running = True
        delay = self.interval
        try:
            while not self._stop.is_set():
                try:
                    step()
                except (GatewayError, CrossBlockError, OSError) as exc:
                    state.failed(self.clock(), exc)
                    log.warning(
                        "%s failed: %s; retrying in %.1fs", threading.current_thread().name, exc, delay
                    )
                    delay = min(delay * 2, _MAX_BACKOFF)
                else:
                    state.ok(self.clock())
                    delay = self.interval
                self._stop.wait(delay)
        finally:
            state.running = False

    def _publish_loop(self) -> None:
        ctx = self.context
        publisher: Publisher | None = None

        def step() -> None:
            nonlocal publisher
            if publisher is None:
                publisher = ctx.publisher(clock=self.clock)
            report: PublishReport = publisher.publish_once(flush=False)
            self.state.records_published += report.records
            if report.batches:
                log.info("published %d batch(es), %d records", report.batches, report.records)

        self._loop(self.state.publisher, step)

    def _sync_loop(self) -> None:
        ctx = self.context

        def step() -> None:
            if self._syncer is None:
                self._syncer = Syncer(
                    settings=ctx.settings, engine=ctx.engine, client=ctx.client, verify_workers=0
                )
            report: SyncReport = self._syncer.sync_once(stop=self._stop)
            self.state.synced_block = report.to_block
            self.state.records_synced += report.records
            if report.batches:
                log.info("synced %d batch(es), %d records", report.batches, report.records)

        self._loop(self.state.syncer, step)
