"""The register import's block path (whole blocks of plain new entries) against its row loop.

The same snapshots are imported twice into the same database, emptied in between: once with the
row loop only (``block_rows=0``), once in tiny blocks, some of which take the block path while
others (holding a bad, repeated, clearing or already-registered row) fall back to the row loop.
Everything but the random salts must come out the same, and every commitment must be the
keccak of its entry's salt and case reference.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.services import importer
from gateway.services.importer import import_register
from ledger_node.identifiers import imei15
from ledger_node.record import SALT_SIZE, Kind, case_commitment

COUNTRY = "IN"
NOW = 1_750_000_000
KINDS = ("STOLEN", "LOST", "DUPLICATED", "INVALID")


def _imeis(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    cores: set[str] = set()
    while len(cores) < count:
        cores.add(f"{rng.randrange(10**14):014d}")
    return [imei15(core) for core in sorted(cores, key=lambda _: rng.random())]


def _rows(imeis: list[str], seed: int) -> list[list[str | int]]:
    rng = random.Random(seed)
    return [
        [imei, rng.choice(KINDS), NOW - rng.randrange(10**8), f"CASE/{n}" if n % 5 else ""]
        for n, imei in enumerate(imeis)
    ]


def _scatter_trouble(rows: list[list[str | int]], registered: list[str], seed: int) -> None:
    """Put rows the block path must leave to the row loop at a few random places of ``rows``."""
    rng = random.Random(seed)
    first, second = rows[3], rows[40]
    wrong_digit = str(first[0])[:14] + str((int(str(first[0])[14]) + 1) % 10)
    trouble: list[list[str | int]] = [
        [wrong_digit, "STOLEN", NOW - 5, "x"],  # bad check digit (its core counts as mentioned)
        ["12345", "LOST", NOW - 5, "x"],  # wrong length
        [imei15("35000000000001"), "FOUND", NOW - 5, "x"],  # unknown kind
        [imei15("35000000000002"), "STOLEN", NOW + 3 * 86_400, "x"],  # too far in the future
        [imei15("35000000000003"), "lost", "2024-05-01", "x"],  # lower-case kind, ISO date: valid
        [imei15("35000000000004"), "STOLEN", NOW - 9, "caf\u00e9"],  # non-ASCII case: valid
        ["imei-" + imei15("35000000000005"), "INVALID", NOW - 9, "x"],  # PEI form: valid
        [imei15("35000000000006"), "RECOVERED", NOW - 9, "x"],  # clearing a new IMEI: refused
        [imei15("35000000000007"), "LOST", -5, "x"],  # negative time
        [imei15("35000000000008"), "LOST", True, "x"],  # JSON true, CSV "True": not a time
        list(first),  # identical repeat: unchanged
        [second[0], "DUPLICATED" if second[1] != "DUPLICATED" else "LOST", second[2], second[3]],  # conflict
        [registered[0], "STOLEN", NOW - 100, "SEED/0"],  # registered, identical: unchanged
        [registered[1], "LOST", NOW - 50, "SEED/1"],  # registered, changed: an update
        [registered[2], "RECOVERED", NOW - 10, ""],  # registered: cleared
    ]
    for row in trouble:
        rows.insert(rng.randrange(len(rows) + 1), row)


def _write(path: Path, rows: list[list[str | int]]) -> Path:
    if path.suffix == ".csv":
        text = "imei,kind,reported_at,case_ref\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)
    else:
        keys = ("imei", "kind", "reported_at", "case_ref")
        text = "".join(json.dumps(dict(zip(keys, row, strict=True))) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _seed(db, tmp_path: Path, registered: list[str]) -> None:
    rows: list[list[str | int]] = [
        [imei, "STOLEN", NOW - 100, f"SEED/{n}"] for n, imei in enumerate(registered)
    ]
    import_register(db.factory, country=COUNTRY, path=_write(tmp_path / "seed.csv", rows), now=NOW - 1000)


def _import(db, path: Path, block_rows: int, seen_blocks: list[str | None]) -> dict[str, object]:
    """Import ``path`` and return everything it produced but salts; check commitments and salts."""
    progress: list[tuple[int, int]] = []
    report = import_register(
        db.factory,
        country=COUNTRY,
        path=path,
        now=NOW,
        chunk_rows=61,
        block_rows=block_rows,
        progress=lambda done, total: progress.append((done, total)),
    )
    register = db.register()
    outbox = [row for row in db.outbox() if row.created_at == NOW]
    cases = _case_refs(path)
    salts = [entry.case_salt for entry in register.values()]
    assert all(len(salt) == SALT_SIZE for salt in salts)
    assert len(set(salts)) == len(salts)
    for row in outbox:
        entry = register[row.imei]
        if row.kind in (Kind.RECOVERED, Kind.WITHDRAWN):
            continue
        assert (
            bytes(row.record[-4:])
            == entry.case_commitment
            == case_commitment(entry.case_salt, cases[row.imei])
        )
    return {
        "register": {imei: (e.kind, e.reported_at, e.updated_at) for imei, e in register.items()},
        "outbox": [(bytes(r.record[:-4]), r.imei, r.kind, r.created_at) for r in outbox],
        "bad": [(b.line, b.reason) for b in report.bad_rows],
        "report": (report.rows, report.created, report.unchanged, report.missing, report.by_kind),
        "progress": progress,
        "blocks": seen_blocks.copy(),
    }


def _both_ways(db, path: Path, planned: list[str | None], seed: Callable[[], object]):
    """Import ``path`` with the row loop only, then in blocks of 8 rows, into the database emptied
    and seeded by ``seed`` each time; check both give the same and return that and the blocks."""
    results = []
    for block_rows in (0, 8):
        db.reset()
        seed()
        planned.clear()
        results.append(_import(db, path, block_rows, planned))
    by_rows, by_blocks = results
    assert by_rows.pop("blocks") == []
    blocks = by_blocks.pop("blocks")
    assert by_blocks == by_rows
    return by_rows, blocks


def _case_refs(path: Path) -> dict[str, str]:
    """The case reference of each IMEI core's first row naming it by its plain 15 digits."""
    cases: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1 if path.suffix == ".csv" else 0 :]:
        if path.suffix == ".csv":
            imei, _, _, case = line.split(",")
        else:
            obj = json.loads(line)
            imei, case = obj["imei"], obj["case_ref"]
        cases.setdefault(imei.removeprefix("imei-")[:14], case)
    return cases


@pytest.fixture
def planned(monkeypatch) -> list[str | None]:
    """What became of each block: None (all of it to the row loop), "whole" (planned), "rest"
    (planned, some rows left to the row loop)."""
    outcomes: list[str | None] = []
    plan = importer._plan_block

    def spy(*args, **kwargs):
        result = plan(*args, **kwargs)
        outcomes.append(None if result is None else "rest" if result[2] else "whole")
        return result

    monkeypatch.setattr(importer, "_plan_block", spy)
    return outcomes


@pytest.mark.parametrize("suffix", [".csv", ".ndjson"])
@pytest.mark.parametrize("troubled", [False, True])
def test_blocks_give_what_the_row_loop_gives(db, tmp_path, monkeypatch, planned, suffix, troubled):
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 37)
    imeis = _imeis(403, seed=11)
    registered, fresh = imeis[:3], imeis[3:]
    rows = _rows(fresh, seed=12)
    if troubled:
        _scatter_trouble(rows, registered, seed=13)
    path = _write(tmp_path / f"register{suffix}", rows)

    by_rows, blocks = _both_ways(db, path, planned, seed=lambda: _seed(db, tmp_path, registered))
    assert any(blocks)
    if troubled:
        assert not all(blocks)
        assert len(by_rows["bad"]) == 8
        assert by_rows["report"][2] == 2  # the identical repeat and the identical registered row


@pytest.mark.parametrize("changed", [0, 5])
def test_a_grown_snapshot_gives_what_the_row_loop_gives(db, tmp_path, planned, changed):
    """The next day's snapshot: yesterday's rows (a few changed) with new rows among them. Blocks
    of identical and new rows are planned whole; a block with a changed row leaves its rows to
    the row loop, which must still write the outbox in the file's order."""
    imeis = _imeis(300, seed=21)
    yesterday = _rows(imeis[:200], seed=22)
    today = [list(row) for row in yesterday]
    for row in random.Random(23).sample(today, changed):
        row[1] = "LOST" if row[1] != "LOST" else "STOLEN"
    rng = random.Random(24)
    for row in _rows(imeis[200:], seed=25):
        today.insert(rng.randrange(len(today) + 1), row)
    seed_path = _write(tmp_path / "yesterday.csv", yesterday)
    path = _write(tmp_path / "today.csv", today)

    by_rows, blocks = _both_ways(
        db,
        path,
        planned,
        seed=lambda: import_register(db.factory, country=COUNTRY, path=seed_path, now=NOW - 1000),
    )
    # every block is planned, those with a changed row leaving their changed and new rows to the loop
    assert set(blocks) == ({"whole", "rest"} if changed else {"whole"})
    assert by_rows["report"][1:3] == (100 + changed, 200 - changed)  # created, unchanged
    assert sum(1 for r in by_rows["outbox"] if r[3] == NOW) == 100 + changed
