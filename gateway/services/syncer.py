"""The verifying syncer: follow the chain, verify every batch, apply it with the cursor atomically.

One run (:meth:`Syncer.sync_once`):

1. make sure ``DeviceStatus`` was folded under the current policy (refold everything if not);
2. reorg check: if the chain's hash of the cursor block differs from the stored one, find the
   newest remembered block (``SeenBlock``) still on the chain, undo everything applied above it and
   continue from there;
3. from the cursor (or ``deploy_block``) to ``latest - confirmations``, in chunks of
   ``sync_chunk_blocks``: one ``eth_getLogs`` for the chunk's BatchPublished and signer events (raw
   logs, decoded by slicing), bracketed by two reads of the chunk's last block hash (a reorg during
   the read makes the chunk be read again); then ONE database transaction per chunk that applies
   the signer events first, then every batch in chain order (records written in bulk, sorted, by a
   :class:`~gateway.services.apply.BatchWriter`, flushed before the cursor moves), then moves the
   cursor (block number and hash) and the seen blocks. A crash anywhere leaves the database at a
   chunk boundary.

Per batch: already applied (same head) → skipped; its country blocked → quarantined ``held``;
fails verification → quarantined ``rejected`` and its country blocked; else applied.

The Merkle root is the one expensive check (two keccak per record). When a chunk holds many records
and ``verify_workers > 0`` the roots are computed in worker processes while this process writes
the previous batches.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine

from gateway.errors import BatchVerificationError, ConfigurationError, SyncError
from gateway.failpoints import failpoint
from gateway.services.apply import (
    HELD,
    REJECTED,
    BatchWriter,
    CountryState,
    apply_signer_event,
    block_country,
    ensure_policy,
    event_head,
    load_country_states,
    load_signers,
    quarantine_batch,
    read_cursor,
    rewind_above,
    write_cursor,
)
from gateway.services.status import Policy
from gateway.services.verify import verify_batch
from gateway.settings import GatewaySettings
from ledger_node.client import LedgerClient
from ledger_node.errors import CrossBlockError, NodeUnavailableError
from ledger_node.events import (
    BATCH_PUBLISHED_TOPIC,
    SIGNER_ADDED_TOPIC,
    SIGNER_REVOKED_TOPIC,
    BatchEvent,
    SignerEvent,
    decode_batch_published,
    decode_signer_event,
)
from ledger_node.merkle import merkle_root_packed

__all__ = ["SyncReport", "Syncer"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_TOPICS: list[Any] = [
    ["0x" + t.hex() for t in (BATCH_PUBLISHED_TOPIC, SIGNER_ADDED_TOPIC, SIGNER_REVOKED_TOPIC)]
]
_BATCH_TOPIC_HEX = "0x" + BATCH_PUBLISHED_TOPIC.hex()
#: Below this many records in a chunk the worker pool is not worth its overhead.
_POOL_THRESHOLD = 20_000
#: A catch-up over at least this many blocks starts the worker processes while the logs are read.
_WARM_UP_BLOCKS = 256


@dataclass
class SyncReport:
    """Counters of one :meth:`Syncer.sync_once` run."""

    from_block: int = 0
    to_block: int = -1
    chunks: int = 0
    batches: int = 0
    records: int = 0
    skipped: int = 0
    quarantined: int = 0
    held: int = 0
    signer_events: int = 0
    status_changes: int = 0
    rewound_to: int | None = None
    rewound_batches: int = 0
    refolded: bool = False
    seconds: float = 0.0
    rejected: list[str] = field(default_factory=list)

    @property
    def records_per_second(self) -> float:
        """Applied records per second of wall time."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


class Syncer:
    """Follows the ledger for one gateway.

    ``verify_workers``: processes computing Merkle roots for big chunks (default: CPUs - 1, at
    most 4; 0 disables). They are started with the ``spawn`` method (safe in a threaded server),
    which imports the program's main module again: a script driving a Syncer needs the usual
    ``if __name__ == "__main__":`` guard. Call :meth:`close` (or use ``with``) to stop them.
    """

    def __init__(
        self,
        *,
        settings: GatewaySettings,
        engine: Engine,
        client: LedgerClient,
        verify_workers: int | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if client.address.lower() != settings.ledger_address.lower():
            raise ConfigurationError(
                f"client is bound to ledger {client.address}, settings name {settings.ledger_address}"
            )
        self.settings = settings
        self.engine = engine
        self.client = client
        self.policy = Policy.from_settings(settings)
        self.retries = retries
        self.backoff = backoff
        self.clock = clock
        cpus = os.cpu_count() or 1
        self.verify_workers = min(4, cpus - 1) if verify_workers is None else verify_workers
        self._pool: ProcessPoolExecutor | None = None

    # ---------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Syncer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _workers(self) -> ProcessPoolExecutor | None:
        if self.verify_workers <= 0:
            return None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.verify_workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    # ----------------------------------------------------------------------------------------- rpc
    def _retry(self, what: str, call: Callable[[], T]) -> T:
        for attempt in range(self.retries + 1):
            try:
                return call()
            except (NodeUnavailableError, OSError, ValueError) as exc:
                if attempt == self.retries:
                    raise SyncError(f"{what} failed after {self.retries + 1} attempts: {exc}") from exc
                log.warning("%s failed (attempt %d): %s", what, attempt + 1, exc)
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _block_hash(self, number: int) -> bytes | None:
        """Hash of block ``number`` on the node's canonical chain, None if it has no such block."""

        def call() -> bytes | None:
            response = self.client.w3.provider.make_request("eth_getBlockByNumber", [hex(number), False])  # type: ignore[arg-type]
            if "error" in response:
                raise NodeUnavailableError(f"eth_getBlockByNumber failed: {response['error']}")
            result = response.get("result")
            return None if result is None else bytes.fromhex(str(result["hash"])[2:])

        return self._retry(f"eth_getBlockByNumber({number})", call)

    def _read_chunk(self, start: int, end: int) -> tuple[list[SignerEvent], list[BatchEvent], bytes]:
        """Logs of ``[start, end]`` and the hash of ``end``, read consistently (same chain before/after)."""
        for _ in range(self.retries + 1):
            before = self._block_hash(end)
            logs = self._retry(
                f"eth_getLogs({start}..{end})",
                lambda: self.client.get_logs(from_block=start, to_block=end, topics=_TOPICS),
            )
            after = self._block_hash(end)
            if before is not None and before == after:
                signers: list[SignerEvent] = []
                batches: list[BatchEvent] = []
                for raw in logs:
                    if raw.get("removed"):
                        continue
                    try:
                        if str(raw["topics"][0]).lower() == _BATCH_TOPIC_HEX:
                            batches.append(decode_batch_published(raw))
                        else:
                            signers.append(decode_signer_event(raw))
                    except CrossBlockError as exc:
                        raise SyncError(
                            f"undecodable ledger log in block {raw.get('blockNumber')}: {exc}"
                        ) from exc
                key = lambda e: (e.position.block_number, e.position.log_index)  # noqa: E731
                signers.sort(key=key)
                batches.sort(key=key)
                return signers, batches, before
            log.warning("chain changed at block %d while reading logs; reading again", end)
        raise SyncError(f"the chain keeps changing at block {end}; try again later")

    # ---------------------------------------------------------------------------------------- reorg
    def _check_reorg(self, report: SyncReport) -> tuple[int, bytes] | None:
        """Rewind if the cursor block is no longer on the chain; returns the (new) cursor."""
        with self.engine.connect() as conn:
            cursor = read_cursor(conn)
        if cursor is None:
            return None
        number, stored = cursor
        if self._block_hash(number) == stored:
            return cursor
        with self.engine.connect() as conn:
            seen = [
                (int(n), bytes(h))
                for n, h in conn.exec_driver_sql("SELECT number, hash FROM seen_blocks ORDER BY number DESC")
            ]
        fork: tuple[int, bytes] | None = None
        for n, h in seen:
            if n < number and self._block_hash(n) == h:
                fork = (n, h)
                break
        if fork is None:
            raise SyncError(
                f"chain reorganisation deeper than the {len(seen)} remembered blocks "
                f"(cursor at block {number}); "
                "raise reorg_history or rebuild the database"
            )
        with self.engine.begin() as conn:
            result = rewind_above(conn, block=fork[0], policy=self.policy)
            write_cursor(
                conn, block_number=fork[0], block_hash=fork[1], seen=[fork], keep=self.settings.reorg_history
            )
        log.warning(
            "reorg: block %d changed; rewound to block %d (%d batches, %d records undone)",
            number, fork[0], result.batches, result.records,
        )  # fmt: skip
        report.rewound_to = fork[0]
        report.rewound_batches = result.batches
        report.status_changes += result.status_changes
        return fork

    # ----------------------------------------------------------------------------------------- sync
    def sync_once(
        self,
        *,
        progress: Callable[[SyncReport], None] | None = None,
        to_block: int | None = None,
        stop: threading.Event | None = None,
    ) -> SyncReport:
        """Apply everything from the cursor to ``latest - confirmations`` (or ``to_block`` if lower).

        ``progress`` is called with the running report after each committed chunk.

        Raises:
            SyncError: the node keeps failing, the chain reorganised deeper than the kept history,
                or the database holds a batch that contradicts the chain.
        """
        started = time.perf_counter()
        report = SyncReport()
        with self.engine.begin() as conn:
            report.refolded = ensure_policy(conn, policy=self.policy)
        cursor = self._check_reorg(report)
        latest = self._retry("eth_blockNumber", self.client.block_number)
        target = latest - self.settings.confirmations
        if to_block is not None:
            target = min(target, to_block)
        start = self.settings.deploy_block if cursor is None else cursor[0] + 1
        report.from_block, report.to_block = start, max(target, start - 1)
        chunk = self.settings.sync_chunk_blocks
        if target - start + 1 >= _WARM_UP_BLOCKS:
            self._warm_up()
        while start <= target:
            if stop is not None and stop.is_set():
                break
            end = min(start + chunk - 1, target)
            signers, batches, end_hash = self._read_chunk(start, end)
            self._apply_chunk(signers, batches, end, end_hash, report)
            report.chunks += 1
            report.to_block = end
            report.seconds = time.perf_counter() - started
            if progress is not None:
                progress(report)
            start = end + 1
        report.seconds = time.perf_counter() - started
        return report

    def _roots(self, batches: list[BatchEvent]) -> list[Future[bytes] | None]:
        """Start computing the Merkle roots of a big chunk's batches in the worker processes."""
        total = sum(len(ev.records) for ev in batches) // 16
        pool = self._workers() if total >= _POOL_THRESHOLD else None
        if pool is None:
            return [None] * len(batches)
        # ledger_node.merkle is light to import in a worker; a malformed length raises there and
        # the root is then left to verify_batch, which reports the length first.
        return [pool.submit(merkle_root_packed, ev.records) for ev in batches]

    def _warm_up(self) -> None:
        """Start the worker processes in the background (they take a moment to import)."""
        pool = self._workers()
        if pool is not None:
            for _ in range(self.verify_workers):
                pool.submit(int)

    def _apply_chunk(
        self,
        signers: list[SignerEvent],
        batches: list[BatchEvent],
        end: int,
        end_hash: bytes,
        report: SyncReport,
    ) -> None:
        roots = self._roots(batches)
        chain_id, ledger = self.client.chain_id, self.client.address
        now = int(self.clock())
        seen = {(end, end_hash)}
        with self.engine.begin() as conn:
            for sev in signers:
                apply_signer_event(conn, sev)
                seen.add((sev.position.block_number, sev.position.block_hash))
            report.signer_events += len(signers)
            signer_set = load_signers(conn)
            states = load_country_states(conn)
            writer = BatchWriter(conn, policy=self.policy)
            for ev, root_future in zip(batches, roots, strict=True):
                seen.add((ev.position.block_number, ev.position.block_hash))
                state = states.setdefault(ev.country, CountryState())
                if ev.seq <= state.last_seq:
                    self._check_applied(conn, ev)
                    report.skipped += 1
                    continue
                if state.blocked_seq is not None:
                    reason = f"held behind rejected batch {ev.country}#{state.blocked_seq}"
                    if quarantine_batch(conn, ev, state=HELD, reason=reason, detected_at=now):
                        report.held += 1
                    continue
                root = None
                if root_future is not None:
                    try:
                        root = root_future.result()
                    except CrossBlockError:
                        root = None
                try:
                    verified = verify_batch(
                        ev,
                        expected_seq=state.last_seq + 1,
                        expected_prev_head=state.head,
                        chain_id=chain_id,
                        ledger_address=ledger,
                        signer_active=signer_set.active,
                        merkle_root=root,
                    )
                except BatchVerificationError as exc:
                    log.error("batch quarantined: %s", exc.reason)
                    quarantine_batch(
                        conn, ev, state=REJECTED, reason=f"[{exc.code}] {exc.reason}", detected_at=now
                    )
                    block_country(conn, country=ev.country, seq=ev.seq)
                    state.blocked_seq = ev.seq
                    report.quarantined += 1
                    report.rejected.append(exc.reason)
                    continue
                result = writer.add(verified)
                state.last_seq, state.head = ev.seq, verified.head
                if not result.skipped:
                    report.batches += 1
                    report.records += result.records
                    report.status_changes += result.status_changes
            report.status_changes += writer.flush()
            write_cursor(
                conn, block_number=end, block_hash=end_hash, seen=seen, keep=self.settings.reorg_history
            )
            failpoint("sync-mid-apply")

    @staticmethod
    def _check_applied(conn: Any, ev: BatchEvent) -> None:
        """A batch at or below the applied seq must be the one applied (re-sync over old blocks)."""
        row = conn.exec_driver_sql(
            "SELECT head FROM ledger_batches WHERE country = ? AND seq = ?"
            if conn.dialect.paramstyle == "qmark"
            else "SELECT head FROM ledger_batches WHERE country = %s AND seq = %s",
            (ev.country, ev.seq),
        ).first()
        if row is None or bytes(row[0]) != event_head(ev):
            raise SyncError(
                f"{ev.country}#{ev.seq} on chain (block {ev.position.block_number}) differs from the applied "
                "batch; run `crossblock audit verify`"
            )

    # -------------------------------------------------------------------------------------- follow
    def follow(
        self,
        *,
        interval: float,
        stop: threading.Event,
        on_report: Callable[[SyncReport], None] | None = None,
    ) -> None:
        """Sync every ``interval`` seconds until ``stop`` is set; node errors back off, never raise."""
        delay = interval
        while not stop.is_set():
            try:
                report = self.sync_once(stop=stop)
            except SyncError as exc:
                log.warning("sync failed: %s; retrying in %.1fs", exc, delay)
                delay = min(max(delay * 2, interval), 60.0)
            else:
                delay = interval
                if on_report is not None:
                    on_report(report)
            stop.wait(delay)

    # ---------------------------------------------------------------------------------- quarantine
    def release(self, country: str) -> int:
        """Forget ``country``'s quarantined batches and re-read the chain from the first of them.

        For after the cause was fixed (e.g. a node that served altered logs was replaced): the next
        :meth:`sync_once` fetches and verifies those batches again. Other countries' batches in the
        re-read range are recognised as applied and skipped. Returns the number of rows released.
        """
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT min(block_number), count(*) FROM quarantine WHERE country = "
                + ("?" if conn.dialect.paramstyle == "qmark" else "%s"),
                (country,),
            ).first()
        if row is None or not row[1]:
            return 0
        first_block, count = int(row[0]), int(row[1])
        back = max(first_block - 1, 0)
        back_hash = self._block_hash(back)
        if back_hash is None:
            raise SyncError(f"block {back} is not on the chain")
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM quarantine WHERE country = {mark}", (country,))
            conn.exec_driver_sql(
                f"UPDATE country_logs SET blocked_seq = NULL WHERE country = {mark}", (country,)
            )
            cursor = read_cursor(conn)
            if cursor is not None and cursor[0] > back:
                write_cursor(conn, block_number=back, block_hash=back_hash, seen=[(back, back_hash)],
                             keep=self.settings.reorg_history)  # fmt: skip
        return count
