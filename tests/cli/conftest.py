"""Fixtures of the CLI tests: an in-process runner, and a devnet of their own for the anvil tests.

The anvil tests publish through `crossblock publish`, whose gateway database must be the only
publisher of its country's log: they get a devnet of their own rather than the session-wide one that
other tests publish on directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_node.devnet import Devnet
from tests.cli.helpers import Cli
from tests.conftest import free_port


@pytest.fixture(scope="session")
def cli_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet used only through the CLI (gateway databases in its state directory)."""
    net = Devnet(tmp_path_factory.mktemp("cli-devnet"), port=free_port())
    net.up()
    try:
        yield net
    finally:
        net.down()


@pytest.fixture
def cli(cli_devnet: Devnet) -> Cli:
    """`crossblock` run in-process (typer's CliRunner) against the CLI devnet."""
    return Cli(cli_devnet)


@pytest.fixture
def offline_config(tmp_path: Path) -> Path:
    """A config file for a gateway with its own database and no node (commands that only read/write it)."""
    path = tmp_path / "gateway.toml"
    path.write_text(
        'rpc_url = "http://127.0.0.1:9"\n'  # nothing listens there
        'ledger_address = "0x0000000000000000000000000000000000000001"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        'honours = ["IN", "BR"]\n',
        encoding="utf-8",
    )
    return path
