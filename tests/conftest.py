"""Shared fixtures: a real anvil devnet in a temporary directory on a free port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_node.devnet import Devnet


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
