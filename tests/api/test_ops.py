"""Operations endpoints on a real anvil devnet: /healthz, /readyz (database, node, sync lag), /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.services.apply import REJECTED, quarantine_batch
from ledger_node.devnet import Devnet
from ledger_node.identifiers import imei15
from tests.api.devnet_app import DevnetApi, devnet_of_own, open_app
from tests.conftest import free_port

pytestmark = pytest.mark.anvil

PROBLEM = "application/problem+json"
DEVICES = [imei15(f"8614{n:010d}") for n in (5, 6)]


@dataclass
class Ops:
    net: Devnet
    india: DevnetApi
    brazil: DevnetApi
    root: Path


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    root = tmp_path_factory.mktemp("ops")
    with (
        devnet_of_own(root / "devnet") as net,
        open_app(net, "IN", root / "IN") as india,
        open_app(net, "BR", root / "BR") as brazil,
    ):
        yield Ops(net, india, brazil, root)


def scrape(app: DevnetApi) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    r = app.http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_healthz_needs_no_key(ops: Ops):
    r = ops.brazil.http.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "country": "BR"}


def test_readyz_once_synced(ops: Ops):
    ops.brazil.gateway.sync()
    r = ops.brazil.http.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] is True
    assert {name: c["ok"] for name, c in body["checks"].items()} == {
        "database": True,
        "node": True,
        "sync": True,
    }
    latest = ops.brazil.gateway.client.block_number()
    assert body["latest_block"] == latest
    assert body["sync_block"] == latest
    assert body["lag"] == 0


def test_readyz_is_503_while_the_sync_lags_beyond_the_bound(ops: Ops):
    with open_app(ops.net, "BR", ops.root / "BR-lagging", ready_max_sync_lag=0) as lagging:
        r = lagging.http.get("/readyz")
        assert r.status_code == 503
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert problem["type"] == "urn:crossblock:problem:not-ready"
        assert problem["detail"] == "not ready: sync"
        assert problem["checks"]["sync"]["ok"] is False
        assert "never synced" in problem["checks"]["sync"]["detail"]
        deployment = ops.net.deployment()
        assert problem["lag"] == lagging.gateway.client.block_number() - deployment.deploy_block + 1
        lagging.gateway.sync()
        assert lagging.http.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_node_is_unreachable(ops: Ops):
    closed = f"http://127.0.0.1:{free_port()}"
    with open_app(ops.net, "BR", ops.root / "BR-offline", rpc_url=closed) as offline:
        r = offline.http.get("/readyz")
        assert r.status_code == 503
        problem = r.json()
        assert problem["detail"] == "not ready: node, sync"
        assert problem["checks"]["database"]["ok"] is True
        assert problem["checks"]["node"]["ok"] is False
        assert closed in problem["checks"]["node"]["detail"]
        assert offline.http.get("/healthz").status_code == 200
        samples = scrape(offline)
        assert samples[("crossblock_node_up", ())] == 0
        assert ("crossblock_sync_lag_blocks", ()) not in samples


def test_metrics_time_requests_by_route_template(ops: Ops):
    br = ops.brazil
    before = scrape(br)
    key = (
        "crossblock_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/v1/devices/{imei}"), ("status", "200")),
    )
    for device in DEVICES:
        assert br.http.get(f"/v1/devices/{device}", headers=br.auth("operator")).status_code == 200
    br.http.get("/no/such/path")
    br.http.request("BREW", "/healthz")  # any method name: counted as OTHER, not a series of its own
    br.http.get(f"/v1/devices/{DEVICES[0]}")  # 401
    after = scrape(br)
    assert after[key] - before.get(key, 0) == 2
    unauthorized = (
        "crossblock_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/v1/devices/{imei}"), ("status", "401")),
    )
    assert after[unauthorized] - before.get(unauthorized, 0) == 1
    unmatched = (
        "crossblock_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "unmatched"), ("status", "404")),
    )
    assert after[unmatched] - before.get(unmatched, 0) == 1
    other = [k for k in after if k[0].endswith("_count") and ("method", "OTHER") in k[1]]
    assert other
    assert not [k for k in after if ("method", "BREW") in k[1]]
    total = after[("crossblock_http_request_duration_seconds_sum", key[1])]
    assert total > 0
    # Every bucket of the histogram is cumulative up to +Inf, which equals the count.
    inf = ("crossblock_http_request_duration_seconds_bucket", tuple(sorted((*key[1], ("le", "+Inf")))))
    assert after[inf] == after[key]


def test_metrics_gauges_follow_outbox_publication_and_sync(ops: Ops):
    india, brazil = ops.india, ops.brazil
    items = [{"imei": d, "kind": "LOST"} for d in DEVICES]
    assert india.http.post("/v1/reports", json=items, headers=india.auth("regulator")).json()["applied"] == 2
    with india.gateway.engine.connect() as conn:
        oldest = conn.exec_driver_sql(
            "SELECT min(created_at) FROM outbox WHERE batch_seq IS NULL"
        ).scalar_one()
    before = time.time()
    samples = scrape(india)
    after = time.time()
    assert samples[("crossblock_outbox_depth", ())] == 2
    assert before - oldest <= samples[("crossblock_outbox_oldest_age_seconds", ())] <= after - oldest
    confirmed = ("crossblock_published_batches", (("state", "confirmed"),))
    published_before = samples[confirmed]
    india.gateway.publish()
    samples = scrape(india)
    assert samples[("crossblock_outbox_depth", ())] == 0
    assert samples[("crossblock_outbox_oldest_age_seconds", ())] == 0
    assert samples[confirmed] == published_before + 1
    # BR has not synced IN's new batch: it lags by the blocks since its cursor.
    lagging = scrape(brazil)
    latest = brazil.gateway.client.block_number()
    assert lagging[("crossblock_chain_head_block", ())] == latest
    assert lagging[("crossblock_node_up", ())] == 1
    assert lagging[("crossblock_database_up", ())] == 1
    cursor = lagging[("crossblock_sync_cursor_block", ())]
    assert cursor < latest
    assert lagging[("crossblock_sync_lag_blocks", ())] == latest - cursor
    head_before = lagging[("crossblock_blocklist_feed_head", ())]
    brazil.gateway.sync()
    synced = scrape(brazil)
    assert synced[("crossblock_sync_lag_blocks", ())] == 0
    assert synced[("crossblock_sync_cursor_block", ())] == latest
    assert synced[("crossblock_blocklist_feed_head", ())] == head_before + 2


def test_metrics_count_quarantined_batches(ops: Ops):
    with open_app(ops.net, "BR", ops.root / "BR-quarantine") as br:
        samples = scrape(br)
        rejected = ("crossblock_quarantined_batches", (("state", "rejected"),))
        held = ("crossblock_quarantined_batches", (("state", "held"),))
        assert (samples[rejected], samples[held]) == (0, 0)
        device = imei15("86140000000077")
        assert (
            ops.india.http.post(
                "/v1/reports", json={"imei": device, "kind": "STOLEN"}, headers=ops.india.auth("regulator")
            ).status_code
            == 200
        )
        ops.india.gateway.publish()
        events = list(br.gateway.client.fetch_batches(from_block=ops.net.deployment().deploy_block))
        with br.gateway.engine.begin() as conn:
            quarantine_batch(
                conn, events[0], state=REJECTED, reason="test: bad signature", detected_at=int(time.time())
            )
        samples = scrape(br)
        assert (samples[rejected], samples[held]) == (1, 0)


def test_readyz_and_metrics_when_the_database_is_unusable(ops: Ops):
    with open_app(ops.net, "BR", ops.root / "BR-broken") as broken:
        assert broken.http.get("/readyz").json()["checks"]["database"]["ok"] is True
        broken.app.state.api.context.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            (ops.root / "BR-broken" / f"gateway.sqlite{suffix}").unlink(missing_ok=True)
        (ops.root / "BR-broken" / "gateway.sqlite").write_bytes(b"not a database" * 100)
        r = broken.http.get("/readyz")
        assert r.status_code == 503
        problem = r.json()
        assert problem["detail"] == "not ready: database, sync"
        assert problem["checks"]["database"]["ok"] is False
        assert problem["checks"]["node"]["ok"] is True
        samples = scrape(broken)
        assert samples[("crossblock_database_up", ())] == 0
        assert samples[("crossblock_node_up", ())] == 1
        assert ("crossblock_outbox_depth", ()) not in samples
