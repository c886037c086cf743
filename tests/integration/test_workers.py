"""The served gateway's background loops: a report reaches the ledger and another country's gateway."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.context import GatewayContext
from gateway.services.reports import add_report, in_transaction, recover
from gateway.services.status import StatusLookup
from gateway.services.workers import GatewayWorkers
from gateway.settings import load_settings
from ledger_node.devnet import Devnet
from ledger_node.identifiers import imei15

pytestmark = pytest.mark.anvil


def wait_for(predicate: object, what: str, timeout: float = 30.0) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` if it never is."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def contexts(
    fresh_devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, GatewayContext]]:
    # A chain of its own: the publisher refuses a log that other tests already wrote for IN.
    monkeypatch.setenv("CROSSBLOCK_DEVNET_DIR", str(fresh_devnet.root))
    monkeypatch.setenv("CROSSBLOCK_DEVNET_PORT", str(fresh_devnet.port))
    made = {
        cc: GatewayContext(load_settings(country=cc, data_dir=tmp_path / cc, batch_max_age=0.2))
        for cc in ("IN", "BR")
    }
    yield made
    for ctx in made.values():
        ctx.engine.dispose()


def test_workers_publish_a_report_and_another_gateway_syncs_it(contexts: dict[str, GatewayContext]) -> None:
    india, brazil = contexts["IN"], contexts["BR"]
    imei = "35" + str(time.time_ns())[-12:]
    in_transaction(india.sessions, add_report, country="IN", imei=imei, kind="STOLEN")
    workers = [
        GatewayWorkers(india, sync=False, interval=0.1),
        GatewayWorkers(brazil, publish=False, interval=0.1),
    ]
    lookup = StatusLookup(brazil.engine)
    try:
        for w in workers:
            w.start()
        wait_for(lambda: lookup.status(imei) == (2, "IN"), f"BR to blacklist {imei15(imei)}")

        in_transaction(india.sessions, recover, country="IN", imei=imei)
        wait_for(lambda: lookup.status(imei)[0] == 0, f"BR to whitelist {imei} after IN's recovery")
    finally:
        for w in workers:
            w.stop()
        lookup.close()

    assert workers[0].state.publisher.last_error is None
    assert workers[0].state.records_published == 2
    assert workers[1].state.syncer.last_error is None
    assert workers[1].state.records_synced >= 2
    assert not any(t.name in {"publisher", "syncer"} and t.is_alive() for t in threading.enumerate())


def test_workers_keep_the_error_and_retry_when_the_node_is_down(
    devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSBLOCK_DEVNET_DIR", str(devnet.root))
    monkeypatch.setenv("CROSSBLOCK_DEVNET_PORT", str(devnet.port))
    ctx = GatewayContext(load_settings(country="KE", data_dir=tmp_path / "KE", rpc_url="http://127.0.0.1:9"))
    workers = GatewayWorkers(ctx, publish=False, interval=0.05)
    workers.start()
    try:
        wait_for(lambda: workers.state.syncer.last_error is not None, "the syncer to report the dead node")
    finally:
        workers.stop()

    assert workers.state.syncer.last_success is None
    assert workers.state.syncer.runs >= 1
