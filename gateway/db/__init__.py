"""The gateway's database: SQLAlchemy 2 tables, engine/session set-up and Alembic migrations."""
