"""Engine and session set-up; schema migrations run through Alembic at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    # Checkpoint the WAL into the database file after ~40 MB (10,000 pages) rather than SQLite's
    # default ~4 MB: a bulk write (sync chunk, register import) then copies the pages it touched
    # repeatedly once, not at every commit.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


#: Pool of a PostgreSQL engine: a few connections per process (the syncer and publisher use one
#: each, HTTP workers share the rest), checked before use so a restarted server is survived, and
#: recycled every 30 minutes.
POSTGRES_POOL: dict[str, Any] = {
    "pool_size": 5,
    "max_overflow": 10,
    "pool_timeout": 30,
    "pool_pre_ping": True,
    "pool_recycle": 1800,
}


def make_engine(url: str) -> Engine:
    """An engine for ``url``.

    SQLite files get WAL mode and a busy timeout (parent directory created). PostgreSQL URLs
    (``postgresql+psycopg://user:password@host:port/db``; a bare ``postgresql://`` is taken as
    psycopg 3) get the pool of :data:`POSTGRES_POOL` and an ``application_name``.
    """
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "postgresql":
        args: dict[str, Any] = {"application_name": "crossblock-gateway"}
        return create_engine(parsed, connect_args=args, **POSTGRES_POOL)
    engine = create_engine(parsed)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration bound to ``engine``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision (idempotent)."""
    command.upgrade(alembic_config(engine), "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
