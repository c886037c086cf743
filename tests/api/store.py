"""Write ledger batches straight into a gateway database with the syncer's own store function.

For tests of what is read from ``device_status`` (blocklist, feed): the batches are applied by
:func:`gateway.services.apply.apply_batch` exactly as a sync applies them; only the chain part
(signature, Merkle root, block) is made up; the packed records are real, since a reorganisation
finds the rows to undo through them, because those tests are not about verification.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from sqlalchemy import Engine

from gateway.services.apply import apply_batch, rewind_above
from gateway.services.status import Policy
from gateway.services.verify import VerifiedBatch
from ledger_node.events import BatchEvent, LogPosition
from ledger_node.record import Kind, Record, decode_records, pack_records

COUNTRIES = ("IN", "BR", "KE", "DE")
COMMITMENT = b"\x00\x01\x02\x03"
POLICY = Policy.make(
    honours=COUNTRIES,
    kind_status={"STOLEN": "BLACKLISTED", "LOST": "BLACKLISTED", "INVALID": "BLACKLISTED",
                 "DUPLICATED": "GREYLISTED"},
)  # fmt: skip


class LedgerWriter:
    """Applies each country's next batch to ``engine`` (seq and block numbers kept here)."""

    def __init__(self, engine: Engine, policy: Policy = POLICY) -> None:
        self.engine = engine
        self.policy = policy
        self.seqs: dict[str, int] = {}
        self.block = 0
        self.applied: list[tuple[int, str, int]] = []  # (block, country, seq)

    def apply(self, country: str, entries: Sequence[tuple[str, Kind]]) -> int:
        """Apply ``country``'s next batch of ``(imei core, kind)``; returns the status changes."""
        seq = self.seqs.get(country, 0) + 1
        self.seqs[country] = seq
        self.block += 1
        records = pack_records(
            Record(imei, kind, 1_760_000_000 + i, COMMITMENT) for i, (imei, kind) in enumerate(entries)
        )
        event = BatchEvent(
            country=country,
            seq=seq,
            signer="0x" + "11" * 20,
            prev_head=os.urandom(32),
            records_hash=os.urandom(32),
            merkle_root=os.urandom(32),
            count=len(entries),
            signature=os.urandom(65),
            records=records,
            position=LogPosition(self.block, os.urandom(32), os.urandom(32), 0),
        )
        with self.engine.begin() as conn:
            result = apply_batch(
                conn,
                VerifiedBatch(event=event, head=os.urandom(32), records=decode_records(records)),
                policy=self.policy,
            )
        self.applied.append((self.block, country, seq))
        return result.status_changes

    def rewind(self, blocks: int) -> int:
        """A reorganisation: undo the batches of the last ``blocks`` blocks as the syncer does.

        Returns the block rewound to; later batches continue each country's log from there.
        """
        target = max(0, self.block - blocks)
        with self.engine.begin() as conn:
            rewind_above(conn, block=target, policy=self.policy)
        self.applied = [a for a in self.applied if a[0] <= target]
        self.seqs = {}
        for _block, country, seq in self.applied:
            self.seqs[country] = max(seq, self.seqs.get(country, 0))
        self.block = target
        return target
