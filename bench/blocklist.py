"""Benchmark of the blocklist snapshot stream (gateway.services.blocklist) on SQLite.

``run()`` writes ``rows`` listed IMEIs (plus one WHITELISTED row in ten, which the snapshot skips)
straight into ``device_status`` of a fresh SQLite database, then times reading the whole snapshot
as CSV and as NDJSON, byte strings included, once each, and reports the peak memory of the stream
(tracemalloc, one extra run). ``python -m bench.blocklist`` prints the rows.
"""

from __future__ import annotations

import random
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from gateway.db.engine import make_engine, migrate
from gateway.services.blocklist import open_snapshot

ROWS = 1_000_000
TARGET_SECONDS = 5.0
_ORIGINS = ("IN", "BR", "KE", "DE", "BR,IN", "DE,KE")


def fill(engine: Any, *, rows: int, seed: int = 5) -> None:
    """``rows`` listed IMEIs and ``rows // 10`` WHITELISTED ones, with increasing change ids."""
    rng = random.Random(seed)
    imeis: set[str] = set()
    total = rows + rows // 10
    while len(imeis) < total:
        imeis.add(f"{rng.randrange(10**14):014d}")
    order = list(imeis)
    rng.shuffle(order)
    unlisted = rows // 10
    data = [
        (imei, 0, "", n + 1) if n < unlisted else (imei, rng.choice((1, 2, 2)), rng.choice(_ORIGINS), n + 1)
        for n, imei in enumerate(order)
    ]
    raw = engine.raw_connection()
    try:
        raw.cursor().executemany(
            "INSERT INTO device_status (imei, status, origins, change_id) VALUES (?, ?, ?, ?)", data
        )
        raw.commit()
    finally:
        raw.close()


def _stream(engine: Any, fmt: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    size = lines = 0
    with open_snapshot(engine=engine) as snap:
        for chunk in snap.csv() if fmt == "csv" else snap.ndjson():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return time.perf_counter() - started, size, lines


def run(*, rows: int = ROWS) -> list[dict[str, Any]]:
    """Measure and return the rows."""
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="crossblock-bench-") as tmp:
        engine = make_engine("sqlite:///" + str(Path(tmp) / "gateway.sqlite"))
        try:
            migrate(engine)
            fill(engine, rows=rows)
            _stream(engine, "csv")  # warm the page cache
            for fmt in ("csv", "ndjson"):
                seconds, size, lines = _stream(engine, fmt)
                listed = lines - (fmt == "csv")
                if listed != rows:
                    raise RuntimeError(f"{fmt} snapshot has {listed} rows, expected {rows}")
                out.append({"name": f"blocklist snapshot {fmt} ({rows:,} rows, {size / 1e6:,.0f} MB)",
                            "value": seconds, "unit": "s", "target": f"<= {TARGET_SECONDS:.0f}"})  # fmt: skip
            tracemalloc.start()
            _stream(engine, "ndjson")
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            out.append({"name": "blocklist snapshot ndjson peak Python memory", "value": peak / 1e6,
                        "unit": "MB", "target": "-"})  # fmt: skip
        finally:
            engine.dispose()
    return out


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<64} {row['value']:>14,.3f} {row['unit']:<8} target {row['target']}")
