"""Benchmark of the national register import (gateway.services.importer) into SQLite.

``run()`` generates a 200,000-row CSV snapshot of valid random IMEIs in a temporary directory, imports
it into a fresh SQLite database (every row is a new entry: register row, salt, commitment and outbox
record; written by the import's writer thread while the next chunk is planned, ADR 0006), then
imports it again (every row unchanged: one commitment recomputed per row, no write).
Rows have the shape of ``bench.core``; each figure is from one run (an import is long enough not to need
best-of-N), and the second import always runs against the state the first one left.
``python -m bench.importer`` prints them.
"""

from __future__ import annotations

import csv
import random
import tempfile
from pathlib import Path
from typing import Any

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.services.importer import import_register
from ledger_node.identifiers import luhn_check_digit

ROWS = 200_000
_KINDS = ("STOLEN", "STOLEN", "STOLEN", "LOST", "LOST", "DUPLICATED", "INVALID")
_NOW = 1_750_000_000


def write_snapshot(path: Path, rows: int = ROWS, seed: int = 97) -> None:
    """A CSV snapshot of ``rows`` distinct valid 15-digit IMEIs with random kinds, times and cases."""
    rng = random.Random(seed)
    cores: set[str] = set()
    while len(cores) < rows:
        cores.add(f"{rng.randrange(10**14):014d}")
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["imei", "kind", "reported_at", "case_ref"])
        for n, core in enumerate(sorted(cores, key=lambda _: rng.random())):
            at = _NOW - rng.randrange(5 * 365 * 86_400)
            out.writerow([core + luhn_check_digit(core), rng.choice(_KINDS), at, f"CASE/{n:07d}"])


def _row(name: str, value: float, unit: str, target: str) -> dict[str, Any]:
    return {"name": name, "value": round(value, 1), "unit": unit, "target": target, "stat": "single run"}


def run(*, rows: int = ROWS) -> list[dict[str, Any]]:
    """Measure and return the rows (takes a few seconds)."""
    with tempfile.TemporaryDirectory(prefix="crossblock-bench-") as tmp:
        root = Path(tmp)
        snapshot = root / "register.csv"
        write_snapshot(snapshot, rows)
        engine = make_engine("sqlite:///" + str(root / "gateway.sqlite"))
        try:
            migrate(engine)
            factory = session_factory(engine)
            first = import_register(factory, country="IN", path=snapshot, now=_NOW)
            second = import_register(factory, country="IN", path=snapshot, now=_NOW)
        finally:
            engine.dispose()
    if first.created != rows or second.created != 0 or first.bad_rows or second.bad_rows:
        raise RuntimeError(f"unexpected import result: {first} / {second}")
    return [
        _row(f"register import ({rows:,} rows, SQLite)", rows / first.seconds, "rows/s", ">= 100,000"),
        _row(
            f"register re-import, no change ({rows:,} rows, SQLite)",
            rows / second.seconds,
            "rows/s",
            ">= 100,000",
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<56} {row['value']:>14,.1f} {row['unit']:<8} target {row['target']}")
