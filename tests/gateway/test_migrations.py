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
