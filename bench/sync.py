"""Benchmark of the verifying syncer (gateway.services.syncer) from a real anvil node into SQLite.

``run()`` starts a fresh devnet (anvil in a temporary directory, free port), publishes ``batches``
batches of ``records_per_batch`` random records (default 1,000 x 1,000 = 1,000,000 records)
round-robin from four countries, then times one ``Syncer.sync_once`` into a fresh SQLite database:
fetching the logs, verifying every batch (records hash, Merkle root, head chain, signature, signer
activity) and applying records, entries and statuses. Publishing is not timed; it is pipelined:
batches are pre-built and signed, and each country's relayer sends its transactions with
consecutive nonces without waiting for receipts (anvil mines one block per transaction).
``python -m bench.sync [BATCHES]`` prints the rows.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from web3 import Web3

from gateway.db.engine import make_engine, migrate
from gateway.services.syncer import Syncer
from gateway.settings import GatewaySettings
from ledger_node.batch import ZERO_HASH, Batch, to_abi_tuple
from ledger_node.client import LedgerClient
from ledger_node.devnet import Devnet
from ledger_node.record import Kind, Record, pack_records
from ledger_node.signer import LocalSigner, sign_batch

BATCHES = 1_000
RECORDS_PER_BATCH = 1_000
COUNTRIES = ("IN", "BR", "KE", "DE")
TARGET = 50_000
AIM = 150_000
_KINDS = (Kind.STOLEN, Kind.STOLEN, Kind.LOST, Kind.DUPLICATED, Kind.INVALID, Kind.RECOVERED)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _records(rng: random.Random, n: int) -> bytes:
    return pack_records(
        Record(f"{rng.randrange(10**14):014d}", rng.choice(_KINDS), 1_760_000_000 + i, rng.randbytes(4))
        for i in range(n)
    )


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(net: Devnet, *, timeout: float = 120.0) -> None:
    """Wait until anvil is idle: it dumps its whole state file every 10 s after changes (here
    ~160 MB of JSON for a million records), which would otherwise compete with the timed sync."""
    pid = net.pid()
    deadline = time.monotonic() + timeout
    while pid is not None and time.monotonic() < deadline:
        before = _cpu_seconds(pid)
        time.sleep(1.0)
        after = _cpu_seconds(pid)
        if before is None or after is None:
            time.sleep(12)
            return
        if after - before < 0.02:
            return


def publish_pipelined(
    net: Devnet, client: LedgerClient, *, batches: int, records_per_batch: int, seed: int = 5
) -> int:
    """Publish ``batches`` batches round-robin over the countries, without waiting per receipt.

    Returns the number of records published. Raises if any transaction failed.
    """
    rng = random.Random(seed)
    w3: Web3 = client.w3
    chain_id, ledger = client.chain_id, client.address
    per_country = {cc: (batches + len(COUNTRIES) - 1 - i) // len(COUNTRIES) for i, cc in enumerate(COUNTRIES)}
    signers = {cc: LocalSigner(net.account(cc, "signer").key) for cc in COUNTRIES}
    relayers = {cc: net.account(cc, "relayer") for cc in COUNTRIES}
    nonces = {cc: int(w3.eth.get_transaction_count(relayers[cc].address, "pending")) for cc in COUNTRIES}
    heads = {cc: (0, ZERO_HASH) for cc in COUNTRIES}
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    fees = {"maxFeePerGas": base_fee * 4 + 2 * 10**9, "maxPriorityFeePerGas": 10**9}
    gas: int | None = None
    last: dict[str, bytes] = {}
    published = 0
    for round_ in range(max(per_country.values())):
        for cc in COUNTRIES:
            if round_ >= per_country[cc]:
                continue
            seq, head = heads[cc]
            records = _records(rng, records_per_batch)
            batch = Batch.build(cc, seq + 1, head, records)
            signature = sign_batch(signers[cc], batch, chain_id, ledger)
            fn = client.contract.functions.publishBatch(to_abi_tuple(batch), records, signature)
            tx: dict[str, Any] = {
                "from": relayers[cc].address,
                "to": client.address,
                "data": fn._encode_transaction_data(),
                "value": 0,
                "chainId": chain_id,
                "nonce": nonces[cc],
                **fees,
            }
            if gas is None:  # a first batch writes fresh storage: the most expensive one
                gas = int(w3.eth.estimate_gas(tx)) * 3 // 2  # type: ignore[arg-type]
            tx["gas"] = gas
            signed = relayers[cc].sign_transaction(tx)
            last[cc] = bytes(w3.eth.send_raw_transaction(signed.raw_transaction))
            nonces[cc] += 1
            heads[cc] = (seq + 1, batch.head)
            published += batch.count
    for tx_hash in last.values():
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=600, poll_latency=0.1)  # type: ignore[arg-type]
        if receipt["status"] != 1:
            raise RuntimeError(f"publishing failed in transaction 0x{tx_hash.hex()}")
    for cc in COUNTRIES:
        if client.head_of(cc) != (heads[cc][1], heads[cc][0]):
            raise RuntimeError(f"{cc}: chain head does not match what was published")
    return published


def run(
    *, batches: int = BATCHES, records_per_batch: int = RECORDS_PER_BATCH, verify_workers: int | None = None
) -> list[dict[str, Any]]:
    """Publish, then time one full sync; returns the rows."""
    with tempfile.TemporaryDirectory(prefix="crossblock-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        net = Devnet(root / "devnet", port=_free_port())
        deployment = net.up()
        try:
            client = net.client()
            started = time.perf_counter()
            published = publish_pipelined(net, client, batches=batches, records_per_batch=records_per_batch)
            publish_seconds = time.perf_counter() - started
            time.sleep(11)  # let anvil's periodic state dump (every 10 s after a change) start...
            wait_idle(net)  # ...and finish, so it does not run during the timed sync
            settings = GatewaySettings(
                country="IN",
                rpc_url=net.rpc_url,
                ledger_address=deployment.ledger,
                deploy_block=deployment.deploy_block,
                data_dir=root / "gateway",
                honours=list(COUNTRIES),
            )
            engine = make_engine(settings.database)
            migrate(engine)
            workers = verify_workers
            with Syncer(settings=settings, engine=engine, client=client, verify_workers=workers) as syncer:
                report = syncer.sync_once()
            engine.dispose()
        finally:
            net.down()
    if report.records != published or report.quarantined:
        raise RuntimeError(
            f"sync applied {report.records} of {published} records ({report.quarantined} quarantined)"
        )
    return [
        {"name": f"sync: {published:,} records in {report.batches:,} batches from anvil (fetch+verify+apply)",
         "value": report.records_per_second, "unit": "rec/s", "target": f">= {TARGET:,} (aim {AIM:,})"},
        {"name": "sync: wall time", "value": report.seconds, "unit": "s", "target": "-"},
        {"name": "publish (pipelined relays, not part of the sync figure)",
         "value": published / publish_seconds, "unit": "rec/s", "target": "-"},
    ]  # fmt: skip


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else BATCHES
    for row in run(batches=n):
        print(f"{row['name']:<72} {row['value']:>14,.1f} {row['unit']:<8} target {row['target']}")
