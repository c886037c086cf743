"""Shared fixtures: a real anvil devnet in a temporary directory on a free port; a throwaway PostgreSQL."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_node.devnet import Devnet
from tests.pg_server import REQUIRE_ENV, PostgresServer, PostgresUnavailableError, find_bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet (anvil + deployed ledger + IN, BR, KE, DE registered) shared by the session."""
    root = tmp_path_factory.mktemp("devnet")
    net = Devnet(root, port=free_port())
    net.up()
    try:
        yield net
    finally:
        net.down()


@pytest.fixture
def fresh_devnet(tmp_path: Path) -> Iterator[Devnet]:
    """A devnet of its own, for tests that change governance or must start from an empty chain."""
    net = Devnet(tmp_path / "devnet", port=free_port())
    net.up()
    try:
        yield net
    finally:
        net.down()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the session (see tests.pg_server).

    Without the server binaries the tests that need it are skipped, or fail when
    ``CROSSBLOCK_REQUIRE_POSTGRES=1`` (as ``make test`` sets it), so nothing is silently left out.
    """
    try:
        bindir = find_bindir()
    except PostgresUnavailableError as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{exc} ({REQUIRE_ENV}=1)", pytrace=False)
        pytest.skip(f"{exc} (set {REQUIRE_ENV}=1 to make this a failure)")
    server = PostgresServer(bindir, port=free_port())
    try:
        server.start()
    except PostgresUnavailableError as exc:
        log = server.log_tail()
        server.stop()
        pytest.fail(f"PostgreSQL did not start: {exc}\n{log}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty gateway database, once per backend: a new SQLite file, then PostgreSQL.

    The PostgreSQL database is migrated and emptied (see ``PostgresServer.fresh_database``); callers
    run ``migrate`` on either (a no-op when already migrated).
    """
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "g.sqlite")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.fresh_database()
