"""Fixtures of the gateway tests: a migrated database per test (SQLite file, then PostgreSQL), and helpers."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.db.models import LedgerRecord, OutboxRecord, RegisterEntry
from ledger_node.identifiers import imei15
from ledger_node.record import Kind
from tests.pg_server import find_bindir

COUNTRY = "IN"
NOW = 1_750_000_000  # fixed clock of the tests (2025-06-15T15:06:40Z)


def make_imei(n: int) -> str:
    """A valid 15-digit IMEI derived from ``n`` (distinct for distinct ``n`` below 10**6)."""
    return imei15(f"35{n % 10**6:06d}{(n * 7919) % 10**6:06d}")


def random_imeis(count: int, seed: int = 1) -> list[str]:
    """``count`` distinct valid 15-digit IMEIs."""
    rng = random.Random(seed)
    cores: set[str] = set()
    while len(cores) < count:
        cores.add(f"{rng.randrange(10**14):014d}")
    return [imei15(core) for core in sorted(cores)]


@dataclass(frozen=True)
class Db:
    """A test database and the queries the tests need to look inside it."""

    engine: Engine
    factory: sessionmaker[Session]
    path: Path | None  # the SQLite file; None on PostgreSQL

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def register(self) -> dict[str, RegisterEntry]:
        """The national register by IMEI core."""
        with self.factory() as s:
            return {e.imei: e for e in s.scalars(select(RegisterEntry))}

    def outbox(self) -> list[OutboxRecord]:
        """The outbox in insertion order."""
        with self.factory() as s:
            return list(s.scalars(select(OutboxRecord).order_by(OutboxRecord.id)))

    def add_country_entry(self, imei: str, country: str, kind: Kind, seq: int = 1, idx: int = 0) -> None:
        """Pretend the syncer applied ``country``'s record of ``kind`` for ``imei`` (a 14-digit core)."""
        with self.factory.begin() as s:
            s.merge(
                LedgerRecord(
                    imei=imei, country=country, kind=int(kind), seq=seq, idx=idx, reported_at=NOW - 60
                )
            )

    def reset(self) -> None:
        """Empty the tables the report tests write (for property tests that reuse one database)."""
        with self.factory.begin() as s:
            for model in (RegisterEntry, OutboxRecord, LedgerRecord):
                s.execute(delete(model))

    def execute(self, sql: str) -> None:
        """Run raw SQL in its own transaction (e.g. to install a failing trigger)."""
        with self.engine.begin() as conn:
            conn.execute(text(sql))

    def stored_bytes(self) -> list[bytes]:
        """Everything the database holds on disk: the SQLite files, or a ``pg_dump`` of the database."""
        self.engine.dispose()  # checkpoint the WAL into the main file
        if self.path is not None:
            files = [p for p in self.path.parent.iterdir() if p.name.startswith(self.path.name)]
            return [p.read_bytes() for p in files]
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        dump = subprocess.run(
            [str(find_bindir() / "pg_dump"), "--no-owner", url], capture_output=True, check=True
        )
        return [dump.stdout]

    def fail_outbox_inserts(self, message: str, *, imei: str | None = None) -> None:
        """Install a trigger making inserts into the outbox (of ``imei``, or any) fail with ``message``."""
        if self.dialect == "sqlite":
            when = f"WHEN NEW.imei = '{imei}' " if imei else ""
            self.execute(
                f"CREATE TRIGGER outbox_fails BEFORE INSERT ON outbox {when}"
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
            return
        test = f"NEW.imei = '{imei}'" if imei else "true"
        self.execute(
            "CREATE FUNCTION outbox_fails() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF {test} THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$"
        )
        self.execute(
            "CREATE TRIGGER outbox_fails BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_fails()"
        )

    def drop_outbox_trigger(self) -> None:
        """Remove the trigger of :meth:`fail_outbox_inserts`."""
        if self.dialect == "sqlite":
            self.execute("DROP TRIGGER outbox_fails")
        else:
            self.execute("DROP TRIGGER outbox_fails ON outbox")
            self.execute("DROP FUNCTION outbox_fails()")


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    """A fresh, migrated database: a SQLite file in ``tmp_path``, or a PostgreSQL database."""
    engine = make_engine(database_url)
    migrate(engine)
    path = Path(database_url.removeprefix("sqlite:///")) if database_url.startswith("sqlite:///") else None
    try:
        yield Db(engine, session_factory(engine), path)
    finally:
        engine.dispose()


@pytest.fixture
def factory(db: Db) -> sessionmaker[Session]:
    """The session factory of :func:`db`."""
    return db.factory


@pytest.fixture
def imei_of() -> Callable[[int], str]:
    """:func:`make_imei`, for tests (conftest modules are not imported by test modules)."""
    return make_imei


@pytest.fixture
def many_imeis() -> Callable[..., list[str]]:
    """:func:`random_imeis`, for tests."""
    return random_imeis
