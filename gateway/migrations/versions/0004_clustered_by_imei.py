"""ledger records and device statuses clustered by IMEI; packed records kept per batch

``ledger_batches.records`` keeps each batch's packed records exactly as published (proofs and the
audit read them from there). ``ledger_records`` becomes one B-tree keyed by
``(imei, country, seq, idx)`` holding kind and reported-at (on SQLite a ``WITHOUT ROWID`` table),
and ``country_entries`` is dropped: the latest record of a country for an IMEI is the last row of
that IMEI's range for the country. ``device_status`` loses the partial covering index of 0002; on
SQLite it becomes a ``WITHOUT ROWID`` table, whose primary-key B-tree covers lookups and the
blocklist snapshot by itself. Syncing writes three B-trees per record instead of eight.

Existing rows are carried over in both directions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:40:00
"""

from __future__ import annotations

import struct
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RECORD = struct.Struct(">B7sI4s")
_IMEI_TYPE = 1


def _pack(imei: str, kind: int, reported_at: int, commitment: bytes) -> bytes:
    type_kind = (_IMEI_TYPE << 4) | kind if kind < 0x10 else kind
    return _RECORD.pack(type_kind, bytes.fromhex(imei), reported_at, bytes(commitment))


def _new_records_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("imei", sa.String(length=14), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("imei", "country", "seq", "idx"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("ledger_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("records", sa.LargeBinary(), nullable=True))
    batches = sa.table(
        "ledger_batches", sa.column("country"), sa.column("seq"), sa.column("records", sa.LargeBinary())
    )
    keys = bind.execute(sa.text("SELECT country, seq FROM ledger_batches ORDER BY country, seq")).all()
    for country, seq in keys:
        rows = bind.execute(
            sa.text(
                "SELECT imei, kind, reported_at, case_commitment FROM ledger_records "
                "WHERE country = :cc AND seq = :seq ORDER BY idx"
            ),
            {"cc": country, "seq": seq},
        ).all()
        packed = b"".join(_pack(imei, kind, at, com) for imei, kind, at, com in rows)
        bind.execute(
            batches.update().where(batches.c.country == country, batches.c.seq == seq).values(records=packed)
        )
    with op.batch_alter_table("ledger_batches", schema=None) as batch_op:
        batch_op.alter_column("records", existing_type=sa.LargeBinary(), nullable=False)

    _new_records_table("ledger_records_v4")
    bind.execute(
        sa.text(
            "INSERT INTO ledger_records_v4 (imei, country, seq, idx, kind, reported_at) "
            "SELECT imei, country, seq, idx, kind, reported_at FROM ledger_records"
        )
    )
    op.drop_index("ix_ledger_records_imei", table_name="ledger_records")
    op.drop_table("ledger_records")
    op.rename_table("ledger_records_v4", "ledger_records")
    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE ledger_records RENAME CONSTRAINT ledger_records_v4_pkey TO ledger_records_pkey"
        )
    op.drop_table("country_entries")
    _rebuild_device_status(with_rowid=False)


def _rebuild_device_status(*, with_rowid: bool) -> None:
    """``device_status`` with (0003) or without (0004) the partial covering index; on SQLite the
    table is rebuilt as a rowid table (0003) or a ``WITHOUT ROWID`` table (0004)."""
    bind = op.get_bind()
    if not with_rowid:
        op.drop_index("ix_device_status_listed", table_name="device_status")
    if bind.dialect.name == "sqlite":
        op.create_table(
            "device_status_new",
            sa.Column("imei", sa.String(length=14), nullable=False),
            sa.Column("status", sa.Integer(), nullable=False),
            sa.Column("origins", sa.Text(), nullable=False),
            sa.Column("change_id", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("imei"),
            sqlite_with_rowid=with_rowid,
        )
        bind.execute(
            sa.text(
                "INSERT INTO device_status_new (imei, status, origins, change_id) "
                "SELECT imei, status, origins, change_id FROM device_status"
            )
        )
        op.drop_index("ix_device_status_change_id", table_name="device_status")
        op.drop_table("device_status")
        op.rename_table("device_status_new", "device_status")
        op.create_index("ix_device_status_change_id", "device_status", ["change_id"], unique=False)
    if with_rowid:
        op.create_index(
            "ix_device_status_listed",
            "device_status",
            ["imei", "status", "origins"],
            unique=False,
            sqlite_where=sa.text("status != 0"),
            postgresql_where=sa.text("status != 0"),
        )


def downgrade() -> None:
    bind = op.get_bind()
    _rebuild_device_status(with_rowid=True)
    op.create_table(
        "country_entries",
        sa.Column("imei", sa.String(length=14), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("imei", "country"),
    )
    bind.execute(
        sa.text(
            "INSERT INTO country_entries (imei, country, kind, seq, idx, reported_at) "
            "SELECT imei, country, kind, seq, idx, reported_at FROM ("
            "SELECT imei, country, kind, seq, idx, reported_at, ROW_NUMBER() OVER "
            "(PARTITION BY imei, country ORDER BY seq DESC, idx DESC) AS rn "
            "FROM ledger_records WHERE kind < 16) latest WHERE rn = 1"
        )
    )
    op.create_table(
        "ledger_records_v3",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("imei", sa.String(length=14), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.BigInteger(), nullable=False),
        sa.Column("case_commitment", sa.LargeBinary(length=4), nullable=False),
        sa.PrimaryKeyConstraint("country", "seq", "idx"),
    )
    target = sa.table(
        "ledger_records_v3",
        *(sa.column(c) for c in ("country", "seq", "idx", "imei", "kind", "reported_at")),
        sa.column("case_commitment", sa.LargeBinary()),
    )
    for country, seq, records in bind.execute(sa.text("SELECT country, seq, records FROM ledger_batches")):
        blob = bytes(records)
        rows: list[dict[str, Any]] = []
        for idx in range(len(blob) // 16):
            type_kind, ident, at, com = _RECORD.unpack_from(blob, idx * 16)
            kind = type_kind & 0x0F if type_kind >> 4 == _IMEI_TYPE else type_kind
            rows.append(
                {"country": country, "seq": seq, "idx": idx, "imei": ident.hex(), "kind": kind,
                 "reported_at": at, "case_commitment": com}
            )  # fmt: skip
        if rows:
            bind.execute(target.insert(), rows)
    op.drop_table("ledger_records")
    op.rename_table("ledger_records_v3", "ledger_records")
    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE ledger_records RENAME CONSTRAINT ledger_records_v3_pkey TO ledger_records_pkey"
        )
    op.create_index("ix_ledger_records_imei", "ledger_records", ["imei"], unique=False)
    with op.batch_alter_table("ledger_batches", schema=None) as batch_op:
        batch_op.drop_column("records")
