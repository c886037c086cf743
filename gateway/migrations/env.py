"""Alembic environment: the engine is handed in by gateway.db.engine.migrate."""

from __future__ import annotations

from alembic import context

from gateway.db.models import Base

config = context.config
engine = config.attributes["engine"]

#: Key of the PostgreSQL advisory lock that serializes concurrent migrations (e.g. ``crossblock
#: sync`` and ``crossblock publish`` starting together on a new database): the second waits for the
#: first to commit, then finds the schema at head. On SQLite the migration takes the database's
#: write lock up front instead (``BEGIN IMMEDIATE``; the busy timeout makes the second wait).
MIGRATION_LOCK = 0x43726F7373426C6B  # "CrossBlk"

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
