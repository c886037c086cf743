"""covering partial index of listed device statuses (blocklist snapshot)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_status", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_status_listed",
            ["imei", "status", "origins"],
            unique=False,
            sqlite_where=sa.text("status != 0"),
            postgresql_where=sa.text("status != 0"),
        )


def downgrade() -> None:
    with op.batch_alter_table("device_status", schema=None) as batch_op:
        batch_op.drop_index("ix_device_status_listed")
