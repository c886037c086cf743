"""The Alembic migrations build exactly the schema of the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from gateway.db.engine import alembic_config, make_engine, migrate
from gateway.db.models import Base
from ledger_node.paths import REPO_ROOT


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database (no tables at all) of each backend."""
    if request.param == "sqlite":
        engine = make_engine("sqlite:///" + str(tmp_path / "empty.sqlite"))
        yield engine
        engine.dispose()
        return
    with request.getfixturevalue("postgres_server").database() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def test_migrations_build_the_models_schema_and_rerun_as_no_ops(empty_engine: Engine) -> None:
    assert inspect(empty_engine).get_table_names() == []
    migrate(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert schema_diff(empty_engine) == []
    migrate(empty_engine)  # idempotent
    with empty_engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert len(versions) == 1


def test_migrations_downgrade_to_nothing_and_upgrade_again(empty_engine: Engine) -> None:
    migrate(empty_engine)
    command.downgrade(alembic_config(empty_engine), "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrate(empty_engine)
    assert schema_diff(empty_engine) == []


def test_concurrent_first_migrations_both_succeed(empty_engine: Engine) -> None:
    """Two processes migrating a new database at once (``crossblock sync`` and ``publish`` started
    together): the second waits for the first and finds the schema at head."""
    url = empty_engine.url.render_as_string(hide_password=False)
    script = (
        "import sys\nfrom gateway.db.engine import make_engine, migrate\nmigrate(make_engine(sys.argv[1]))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url], cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert schema_diff(empty_engine) == []


STATUS_ROWS = "SELECT imei, status, origins, change_id FROM device_status ORDER BY imei"


def test_0004_carries_records_and_statuses_over_and_back(empty_engine: Engine) -> None:
    """Rows written under 0003 (records one per row, country_entries) survive the upgrade to 0004
    (packed records per batch, records clustered by IMEI) and the downgrade back, unchanged."""
    cfg = alembic_config(empty_engine)
    command.upgrade(cfg, "0003")
    a, b = "35000000000001", "35000000000002"
    # IN#1: a STOLEN, b LOST; IN#2: a RECOVERED, and a MEID record (typeKind 0x21).
    records = [
        ("IN", 1, 0, a, 1, 1_700_000_000, b"\x01\x02\x03\x04"),
        ("IN", 1, 1, b, 2, 1_700_000_001, b"\x05\x06\x07\x08"),
        ("IN", 2, 0, a, 3, 1_700_000_002, b"\x09\x0a\x0b\x0c"),
        ("IN", 2, 1, "a0000000000001", 0x21, 1_700_000_003, b"\x0d\x0e\x0f\x10"),
    ]
    entries = [(a, "IN", 3, 2, 0, 1_700_000_002), (b, "IN", 2, 1, 1, 1_700_000_001)]
    statuses = [(a, 0, "", 3), (b, 2, "IN", 2)]
    with empty_engine.begin() as conn:
        for seq in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO ledger_batches (country, seq, prev_head, head, records_hash, merkle_root, "
                    "count, signer, signature, block_number, block_hash, tx_hash, log_index) VALUES "
                    "('IN', :seq, :h, :h, :h, :h, 2, '0x00', :sig, :seq, :h, :h, 0)"
                ),
                {"seq": seq, "h": bytes(32), "sig": bytes(65)},
            )
        conn.execute(
            text(
                "INSERT INTO ledger_records (country, seq, idx, imei, kind, reported_at, case_commitment) "
                "VALUES (:cc, :seq, :idx, :imei, :kind, :at, :com)"
            ),
            [dict(zip(("cc", "seq", "idx", "imei", "kind", "at", "com"), r, strict=True)) for r in records],
        )
        conn.execute(
            text(
                "INSERT INTO country_entries (imei, country, kind, seq, idx, reported_at) "
                "VALUES (:imei, :cc, :kind, :seq, :idx, :at)"
            ),
            [dict(zip(("imei", "cc", "kind", "seq", "idx", "at"), e, strict=True)) for e in entries],
        )
        conn.execute(
            text("INSERT INTO device_status (imei, status, origins, change_id) VALUES (:i, :s, :o, :c)"),
            [dict(zip(("i", "s", "o", "c"), st, strict=True)) for st in statuses],
        )

    command.upgrade(cfg, "0004")
    assert schema_diff(empty_engine) == []

    def pack(imei: str, kind: int, at: int, com: bytes) -> bytes:
        type_kind = 0x10 | kind if kind < 0x10 else kind
        return bytes([type_kind]) + bytes.fromhex(imei) + at.to_bytes(4, "big") + com

    with empty_engine.connect() as conn:
        blobs = dict(conn.execute(text("SELECT seq, records FROM ledger_batches ORDER BY seq")).all())
        assert {seq: bytes(blob) for seq, blob in blobs.items()} == {
            seq: b"".join(pack(r[3], r[4], r[5], r[6]) for r in records if r[1] == seq) for seq in (1, 2)
        }
        rows = conn.execute(
            text("SELECT imei, country, seq, idx, kind, reported_at FROM ledger_records ORDER BY imei, seq")
        ).all()
        assert [tuple(r) for r in rows] == sorted((r[3], r[0], r[1], r[2], r[4], r[5]) for r in records)
        stored = conn.execute(text(STATUS_ROWS))
        assert [tuple(r) for r in stored] == statuses

    command.downgrade(cfg, "0003")
    with empty_engine.connect() as conn:
        back = conn.execute(
            text(
                "SELECT country, seq, idx, imei, kind, reported_at, case_commitment FROM ledger_records "
                "ORDER BY seq, idx"
            )
        ).all()
        assert [(*r[:6], bytes(r[6])) for r in back] == records
        rebuilt = conn.execute(
            text("SELECT imei, country, kind, seq, idx, reported_at FROM country_entries ORDER BY imei")
        ).all()
        assert [tuple(r) for r in rebuilt] == entries
        stored = conn.execute(text(STATUS_ROWS))
        assert [tuple(r) for r in stored] == statuses
    command.upgrade(cfg, "head")
    assert schema_diff(empty_engine) == []
