"""`crossblock devnet up|down|status` as a user runs it: the console script in a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_node.devnet import Devnet
from tests.cli.helpers import Cli, crossblock
from tests.conftest import free_port
from tests.integration.helpers import make_records, publish_next

pytestmark = pytest.mark.anvil


@pytest.fixture
def own_devnet(tmp_path: Path) -> Iterator[Devnet]:
    """A devnet directory and port of this test's own, brought up by the CLI, always stopped."""
    net = Devnet(tmp_path / "devnet", port=free_port())
    try:
        yield net
    finally:
        net.down()


def test_up_twice_is_harmless_and_down_up_keeps_every_batch(own_devnet: Devnet) -> None:
    net = own_devnet
    first = crossblock(net, "devnet", "up")
    assert first.returncode == 0, first.stderr
    assert "devnet up" in first.stdout
    deployment = net.deployment()

    second = Cli(net)("devnet", "up")  # in-process: the second run only checks
    assert second.exit_code == 0, second.output
    assert "already" in second.stdout
    assert net.deployment().ledger == deployment.ledger  # nothing redeployed

    client = net.client()
    publish_next(net, client, "IN", make_records(5))
    publish_next(net, client, "IN", make_records(3))
    publish_next(net, client, "BR", make_records(2))
    before = {cc: client.head_of(cc) for cc in ("IN", "BR", "KE")}
    assert before["IN"][1] == 2
    assert before["BR"][1] == 1

    down = crossblock(net, "devnet", "down")
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert net.pid() is None
    stopped = Cli(net)("devnet", "status")
    assert stopped.exit_code == 0, stopped.output
    assert "stopped" in stopped.stdout

    again = crossblock(net, "devnet", "up")
    assert again.returncode == 0, again.stderr
    assert net.deployment().ledger == deployment.ledger
    client = net.client()
    after = {cc: client.head_of(cc) for cc in ("IN", "BR", "KE")}
    assert after == before
    # the reloaded chain still serves the batches' events
    event = client.find_batch(country="IN", seq=2, from_block=deployment.deploy_block)
    assert event is not None
    assert event.count == 3

    status = Cli(net)("devnet", "status")
    assert status.exit_code == 0, status.output
    assert "running" in status.stdout
    seqs = {cells[0]: cells[2] for cells in _table_rows(status.stdout) if cells[0]}
    assert seqs == {"IN": "2", "BR": "1", "KE": "0", "DE": "0"}


def _table_rows(text: str) -> list[list[str]]:
    """Cells of the data rows of a rich table printed with box characters."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│") and not line.strip().startswith("│ country")
    ]
