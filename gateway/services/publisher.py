"""Exactly-once publishing of the national register's changes.

The outbox is cut into batches (by size and age). Each batch is signed and **persisted before it is
submitted**, so a crash can never lose a signed batch nor make the gateway sign a different one for
the same seq. On every run the publisher first reconciles with the chain: batches the chain already
holds (same head) are marked confirmed, the rest are resubmitted unchanged. The contract accepts
each seq exactly once, so every record lands on chain exactly once, even across ``kill -9``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, defer

from gateway.db.engine import session_factory
from gateway.db.models import OutboxRecord, PublishedBatch
from gateway.errors import PublishConflictError
from gateway.failpoints import failpoint
from ledger_node.batch import Batch, struct_hash
from ledger_node.client import LedgerClient
from ledger_node.errors import ContractRevertError, TransactionFailedError
from ledger_node.events import BatchEvent
from ledger_node.signer import Signer, sign_batch

ZERO32 = b"\x00" * 32
SIGNED, SUBMITTED, CONFIRMED = "signed", "submitted", "confirmed"


def _event_head(event: BatchEvent) -> bytes:
    """The head (EIP-712 struct hash) of a batch as the chain recorded it."""
    return struct_hash(
        Batch(event.country, event.seq, event.prev_head, event.records_hash, event.merkle_root, event.count)
    )


@dataclass
class PublishReport:
    """What one publisher run did."""

    reconciled: int = 0
    resubmitted: int = 0
    batches: int = 0
    records: int = 0
    confirmed_seqs: list[int] = field(default_factory=list)
    pending_records: int = 0


class Publisher:
    """Publishes one country's outbox to its log on the ledger."""

    def __init__(
        self,
        *,
        country: str,
        engine: Engine,
        client: LedgerClient,
        signer: Signer,
        relayer: LocalAccount,
        batch_size: int = 1000,
        batch_max_age: float = 5.0,
        deploy_block: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.country = country
        self.engine = engine
        self.sessions = session_factory(engine)
        self.client = client
        self.signer = signer
        self.relayer = relayer
        self.batch_size = batch_size
        self.batch_max_age = batch_max_age
        self.deploy_block = deploy_block
        self.clock = clock

    # ------------------------------------------------------------ reconcile
    def reconcile(self, report: PublishReport) -> None:
        """Settle every batch not yet known confirmed against the chain's seq and head."""
        chain_head, chain_seq = self.client.head_of(self.country)
        with self.sessions() as session:
            open_batches = session.scalars(
                select(PublishedBatch).where(PublishedBatch.state != CONFIRMED).order_by(PublishedBatch.seq)
            ).all()
            last_local = session.scalar(select(func.max(PublishedBatch.seq))) or 0
        if chain_seq > last_local:
            raise PublishConflictError(
                f"the chain holds {self.country} batches up to seq {chain_seq} but this gateway only knows "
                f"{last_local}: another gateway publishes for {self.country}, or this database was restored "
                "from an old backup"
            )
        for batch in open_batches:
            if batch.seq <= chain_seq:
                event = self.client.find_batch(
                    country=self.country, seq=batch.seq, from_block=self.deploy_block
                )
                if event is None:
                    raise PublishConflictError(f"seq {batch.seq} is on chain but its event was not found")
                if _event_head(event) != batch.head:
                    raise PublishConflictError(
                        f"chain holds a different batch at {self.country} seq {batch.seq} "
                        f"(head 0x{_event_head(event).hex()} != ours 0x{batch.head.hex()})"
                    )
                self._mark_confirmed(batch.seq, event.position.tx_hash, event.position.block_number)
                report.reconciled += 1
                report.confirmed_seqs.append(batch.seq)
            else:
                if batch.seq == chain_seq + 1 and batch.prev_head != chain_head:
                    raise PublishConflictError(
                        f"{self.country} seq {batch.seq} chains to 0x{batch.prev_head.hex()} but the chain "
                        f"head is 0x{chain_head.hex()}"
                    )
                self._submit(batch)
                report.resubmitted += 1
                report.confirmed_seqs.append(batch.seq)
                chain_head, chain_seq = batch.head, batch.seq

    # ------------------------------------------------------------------ cut
    def _cut(self, *, flush: bool) -> PublishedBatch | None:
        """Sign and persist the next batch from the outbox, or None if there is nothing (yet) to cut."""
        with self.sessions.begin() as session:
            rows = session.execute(
                select(OutboxRecord.id, OutboxRecord.record, OutboxRecord.created_at)
                .where(OutboxRecord.batch_seq.is_(None))
                .order_by(OutboxRecord.id)
                .limit(self.batch_size)
            ).all()
            if not rows:
                return None
            oldest_age = self.clock() - rows[0].created_at
            if not flush and len(rows) < self.batch_size and oldest_age < self.batch_max_age:
                return None
            last = session.scalars(
                select(PublishedBatch).order_by(PublishedBatch.seq.desc()).limit(1)
            ).first()
            seq, prev_head = (last.seq + 1, last.head) if last else (1, ZERO32)
            records = b"".join(r.record for r in rows)
            batch = Batch.build(self.country, seq, prev_head, records)
            signature = sign_batch(self.signer, batch, self.client.chain_id, self.client.address)
            published = PublishedBatch(
                seq=seq,
                prev_head=prev_head,
                head=struct_hash(batch),
                records_hash=batch.records_hash,
                merkle_root=batch.merkle_root,
                count=batch.count,
                records=records,
                signature=signature,
                signer=self.signer.address,
                state=SIGNED,
                created_at=int(self.clock()),
            )
            session.add(published)
            ids = [r.id for r in rows]
            session.execute(
                update(OutboxRecord),
                [{"id": i, "batch_seq": seq, "batch_index": n} for n, i in enumerate(ids)],
            )
        failpoint("publish-after-sign")
        return published

    # --------------------------------------------------------------- submit
    def _submit(self, batch: PublishedBatch) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(PublishedBatch)
                .where(PublishedBatch.seq == batch.seq)
                .values(state=SUBMITTED, submitted_at=int(self.clock()))
            )
        header = Batch(
            self.country, batch.seq, batch.prev_head, batch.records_hash, batch.merkle_root, batch.count
        )
        try:
            result = self.client.publish(
                sender=self.relayer, batch=header, records=batch.records, signature=batch.signature
            )
        except (ContractRevertError, TransactionFailedError):
            # An earlier submission of this very batch (by a run killed while its transaction was
            # pending) may have been mined first: then ours reverts, and the batch is published.
            event = self.client.find_batch(country=self.country, seq=batch.seq, from_block=self.deploy_block)
            if event is None or _event_head(event) != batch.head:
                raise
            self._mark_confirmed(batch.seq, event.position.tx_hash, event.position.block_number)
            return
        failpoint("publish-after-submit")
        self._mark_confirmed(batch.seq, result.tx_hash, result.block_number)

    def _mark_confirmed(self, seq: int, tx_hash: bytes, block_number: int) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(PublishedBatch)
                .where(PublishedBatch.seq == seq)
                .values(
                    state=CONFIRMED,
                    tx_hash=tx_hash,
                    block_number=block_number,
                    confirmed_at=int(self.clock()),
                )
            )

    # ------------------------------------------------------------------ run
    def publish_once(
        self, *, flush: bool = True, progress: Callable[[PublishReport], None] | None = None
    ) -> PublishReport:
        """Reconcile, then cut, sign, persist, submit and confirm batches until the outbox is drained.

        With ``flush`` False a partial batch waits until it is ``batch_max_age`` seconds old.
        """
        report = PublishReport()
        self.reconcile(report)
        while (batch := self._cut(flush=flush)) is not None:
            self._submit(batch)
            report.batches += 1
            report.records += batch.count
            report.confirmed_seqs.append(batch.seq)
            if progress is not None:
                progress(report)
        report.pending_records = self.pending()
        return report

    def pending(self) -> int:
        """Outbox rows not yet in a batch."""
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(OutboxRecord).where(OutboxRecord.batch_seq.is_(None))
                )
                or 0
            )

    def follow(
        self, *, interval: float, stop: threading.Event, on_report: Callable[[PublishReport], None]
    ) -> None:
        """Publish continuously: batches are cut when full or ``batch_max_age`` old."""
        while not stop.is_set():
            report = self.publish_once(flush=False)
            if report.batches or report.resubmitted or report.reconciled:
                on_report(report)
            stop.wait(interval)


def batch_states(session: Session) -> list[PublishedBatch]:
    """This gateway's own batches, newest first (for `GET /v1/batches`)."""
    return list(session.scalars(select(PublishedBatch).order_by(PublishedBatch.seq.desc())).all())


def batch_page(session: Session, *, limit: int, before: int | None = None) -> list[PublishedBatch]:
    """Up to ``limit`` of our batches with seq below ``before`` (all when None), newest first.

    The records blob is not loaded (``GET /v1/batches`` lists batches, not their records).
    """
    query = select(PublishedBatch).options(defer(PublishedBatch.records)).order_by(PublishedBatch.seq.desc())
    if before is not None:
        query = query.where(PublishedBatch.seq < before)
    return list(session.scalars(query.limit(limit)).all())


def unbatched_count(session: Session) -> int:
    """Outbox records not yet cut into a batch."""
    query = select(func.count()).select_from(OutboxRecord).where(OutboxRecord.batch_seq.is_(None))
    return int(session.scalar(query) or 0)
