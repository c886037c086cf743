"""Fixtures of the gateway tests: a migrated SQLite database file per test, and helpers to inspect it."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.db.models import CountryEntry, OutboxRecord, RegisterEntry
from ledger_node.identifiers import imei15
from ledger_node.record import Kind

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
    path: Path

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
                CountryEntry(
                    imei=imei, country=country, kind=int(kind), seq=seq, idx=idx, reported_at=NOW - 60
                )
            )

    def reset(self) -> None:
        """Empty the tables the report tests write (for property tests that reuse one database)."""
        with self.factory.begin() as s:
            for model in (RegisterEntry, OutboxRecord, CountryEntry):
                s.execute(delete(model))

    def execute(self, sql: str) -> None:
        """Run raw SQL in its own transaction (e.g. to install a failing trigger)."""
        with self.engine.begin() as conn:
            conn.execute(text(sql))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Db]:
    """A fresh, migrated SQLite database file in ``tmp_path``."""
    path = tmp_path / "g.sqlite"
    engine = make_engine("sqlite:///" + str(path))
    migrate(engine)
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
