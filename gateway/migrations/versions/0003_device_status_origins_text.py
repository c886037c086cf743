"""device_status.origins as TEXT: an IMEI may be blocked by more countries than 64 characters hold

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_status", schema=None) as batch_op:
        batch_op.alter_column(
            "origins", existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_status", schema=None) as batch_op:
        batch_op.alter_column(
            "origins", existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=False
        )
