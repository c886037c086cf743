"""Benchmark of the hot-path status lookup (gateway.services.status.StatusLookup) on SQLite.

``run()`` fills a fresh SQLite database with ``records`` ledger records (default 1,000,000: 1,000
batches of 1,000 random IMEIs from four countries, some IMEIs reported by two countries, some
recovered) through the store a sync uses (:class:`gateway.services.apply.BatchWriter`, one
transaction per 100 batches, so the incremental status fold runs as in a sync; signatures and Merkle
roots are not computed, this is not a sync benchmark), then times ``lookups`` single
``StatusLookup.status`` calls in random order, half on listed IMEIs and half on unlisted ones, each
timed on its own with ``perf_counter_ns``. ``python -m bench.status`` prints the rows.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.db.engine import make_engine, migrate
from gateway.services.apply import BatchWriter
from gateway.services.status import Policy, StatusLookup
from gateway.services.verify import VerifiedBatch
from ledger_node.events import BatchEvent, LogPosition
from ledger_node.record import Kind

RECORDS = 1_000_000
BATCH = 1_000
LOOKUPS = 100_000
COUNTRIES = ("IN", "BR", "KE", "DE")
TARGET_P99_US = 50.0
_KINDS = (Kind.STOLEN, Kind.STOLEN, Kind.STOLEN, Kind.LOST, Kind.LOST, Kind.DUPLICATED, Kind.INVALID)


def _core(rng: random.Random) -> str:
    return f"{rng.randrange(10**14):014d}"


def _pack(record: tuple[int, str, int, bytes]) -> bytes:
    type_kind, imei, at, commitment = record
    return bytes([type_kind]) + bytes.fromhex(imei) + at.to_bytes(4, "big") + commitment


def fill(engine: Any, *, records: int = RECORDS, batch: int = BATCH, seed: int = 7) -> list[str]:
    """Apply ``records`` records in batches of ``batch``, 100 batches per transaction; returns the IMEIs
    that were reported."""
    rng = random.Random(seed)
    policy = Policy.make(
        honours=COUNTRIES,
        kind_status={"STOLEN": "BLACKLISTED", "LOST": "BLACKLISTED", "INVALID": "BLACKLISTED",
                     "DUPLICATED": "GREYLISTED"},
    )  # fmt: skip
    seqs = dict.fromkeys(COUNTRIES, 0)
    reported: list[str] = []
    conn = engine.connect()
    writer: BatchWriter | None = None
    for block, start in enumerate(range(0, records, batch), 1):
        if writer is None:
            conn.begin()
            writer = BatchWriter(conn, policy=policy)
        country = COUNTRIES[(start // batch) % len(COUNTRIES)]
        seqs[country] += 1
        decoded = []
        for _ in range(min(batch, records - start)):
            roll = rng.random()
            if reported and roll < 0.05:  # another country reports a known IMEI, or one is recovered
                imei = rng.choice(reported)
                kind = Kind.RECOVERED if roll < 0.01 else rng.choice(_KINDS)
            else:
                imei = _core(rng)
                reported.append(imei)
                kind = rng.choice(_KINDS)
            decoded.append((0x10 | kind, imei, 1_760_000_000, b"\x00\x01\x02\x03"))
        event = BatchEvent(
            country=country,
            seq=seqs[country],
            signer="0x" + "11" * 20,
            prev_head=os.urandom(32),
            records_hash=os.urandom(32),
            merkle_root=os.urandom(32),
            count=len(decoded),
            signature=os.urandom(65),
            records=b"".join(_pack(record) for record in decoded),
            position=LogPosition(block, os.urandom(32), os.urandom(32), 0),
        )
        writer.add(VerifiedBatch(event=event, head=os.urandom(32), records=decoded))
        if block % 100 == 0 or start + batch >= records:
            writer.flush()
            conn.commit()
            writer = None
    conn.close()
    return reported


def run(*, records: int = RECORDS, lookups: int = LOOKUPS) -> list[dict[str, Any]]:
    """Measure and return the rows (filling 1,000,000 records takes a while)."""
    with tempfile.TemporaryDirectory(prefix="crossblock-bench-") as tmp:
        engine = make_engine("sqlite:///" + str(Path(tmp) / "gateway.sqlite"))
        try:
            migrate(engine)
            started = time.perf_counter()
            reported = fill(engine, records=records)
            fill_seconds = time.perf_counter() - started
            rng = random.Random(11)
            listed = set(reported)
            queries = [rng.choice(reported) for _ in range(lookups // 2)]
            while len(queries) < lookups:
                imei = _core(rng)
                if imei not in listed:
                    queries.append(imei)
            rng.shuffle(queries)
            lookup = StatusLookup(engine)
            for imei in queries[:2_000]:  # warm the connection, statement cache and page cache
                lookup.status(imei)
            clock = time.perf_counter_ns
            status = lookup.status
            timings = []
            for imei in queries:
                t0 = clock()
                status(imei)
                timings.append(clock() - t0)
            lookup.close()
        finally:
            engine.dispose()
    timings.sort()
    us = [t / 1_000 for t in timings]
    p50 = us[len(us) // 2]
    p99 = us[int(len(us) * 0.99)]
    return [
        {"name": f"status lookup p50 ({records:,} records, {lookups:,} lookups)", "value": p50, "unit": "µs",
         "target": "-"},
        {"name": f"status lookup p99 ({records:,} records, {lookups:,} lookups)", "value": p99, "unit": "µs",
         "target": f"<= {TARGET_P99_US:.0f}"},
        {"name": "status lookup mean", "value": statistics.fmean(us), "unit": "µs", "target": "-"},
        {"name": f"status bench: fill {records:,} records via BatchWriter", "value": records / fill_seconds,
         "unit": "rec/s", "target": "-"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<64} {row['value']:>14,.1f} {row['unit']:<8} target {row['target']}")
