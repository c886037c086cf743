"""Benchmark of exactly-once publishing (gateway.services.publisher.Publisher) to a real anvil node.

``run()`` starts a fresh devnet (anvil in a temporary directory, free port), adds ``reports`` STOLEN
reports of random valid IMEIs to a fresh SQLite gateway database through the reports service
(:func:`gateway.services.reports.add_reports_bulk`, 5,000 per transaction; timed on its own), then
times one ``Publisher.publish_once()``: cutting the outbox into batches, signing, persisting each
signed batch, submitting and waiting until every batch is confirmed. Afterwards it checks that the
chain's seq and head match the database and that every outbox row is in a confirmed batch.
``python -m bench.publish [REPORTS]`` prints the rows.
"""

from __future__ import annotations

import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.db.models import OutboxRecord, PublishedBatch
from gateway.services.publisher import CONFIRMED, Publisher
from gateway.services.reports import ReportInput, add_reports_bulk
from gateway.settings import GatewaySettings
from ledger_node.devnet import Devnet
from ledger_node.identifiers import luhn_check_digit
from ledger_node.signer import LocalSigner

REPORTS = 20_000
TARGET = 2_000
COUNTRY = "IN"
_CHUNK = 5_000
_NOW = 1_760_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _items(count: int, seed: int = 13) -> list[ReportInput]:
    rng = random.Random(seed)
    cores: set[str] = set()
    while len(cores) < count:
        cores.add(f"{rng.randrange(10**14):014d}")
    return [
        ReportInput(
            core + luhn_check_digit(core), "STOLEN", _NOW - rng.randrange(86_400 * 365), f"CASE/{n:07d}"
        )
        for n, core in enumerate(sorted(cores))
    ]


def run(*, reports: int = REPORTS, batch_size: int | None = None) -> list[dict[str, Any]]:
    """Add reports, then time publishing them until confirmed; returns the rows."""
    with tempfile.TemporaryDirectory(prefix="crossblock-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        net = Devnet(root / "devnet", port=_free_port())
        deployment = net.up()
        try:
            settings = GatewaySettings(
                country=COUNTRY,
                rpc_url=net.rpc_url,
                ledger_address=deployment.ledger,
                deploy_block=deployment.deploy_block,
                data_dir=root / "gateway",
            )
            size = batch_size or settings.batch_size
            settings.data_dir.mkdir(parents=True)
            engine = make_engine(settings.database)
            migrate(engine)
            factory = session_factory(engine)
            items = _items(reports)
            started = time.perf_counter()
            for start in range(0, reports, _CHUNK):
                with factory.begin() as session:
                    results = add_reports_bulk(
                        session, country=COUNTRY, items=items[start : start + _CHUNK], now=_NOW
                    )
                if not all(r.ok for r in results):
                    raise RuntimeError("a benchmark report was rejected")
            add_seconds = time.perf_counter() - started

            client = net.client()
            publisher = Publisher(
                country=COUNTRY,
                engine=engine,
                client=client,
                signer=LocalSigner(net.account(COUNTRY, "signer").key),
                relayer=net.account(COUNTRY, "relayer"),
                batch_size=size,
                batch_max_age=settings.batch_max_age,
                deploy_block=deployment.deploy_block,
            )
            started = time.perf_counter()
            report = publisher.publish_once()
            publish_seconds = time.perf_counter() - started

            with factory() as session:
                batches = session.scalar(select(func.count()).select_from(PublishedBatch)) or 0
                confirmed = session.scalar(
                    select(func.count()).select_from(PublishedBatch).where(PublishedBatch.state == CONFIRMED)
                )
                last = session.scalars(
                    select(PublishedBatch).order_by(PublishedBatch.seq.desc()).limit(1)
                ).one()
                unbatched = session.scalar(
                    select(func.count()).select_from(OutboxRecord).where(OutboxRecord.batch_seq.is_(None))
                )
            head, seq = client.head_of(COUNTRY)
            engine.dispose()
        finally:
            net.down()
    if report.records != reports or confirmed != batches or unbatched or (head, seq) != (last.head, last.seq):
        raise RuntimeError(
            f"publish incomplete: {report.records}/{reports} records, "
            f"{confirmed}/{batches} batches confirmed, "
            f"{unbatched} unbatched, chain seq {seq} vs {last.seq}"
        )
    return [
        {"name": f"publish: {reports:,} reports → confirmed on chain ({batches} batches ≤ {size:,}, SQLite)",
         "value": reports / publish_seconds, "unit": "rec/s", "target": f">= {TARGET:,}"},
        {"name": "publish: wall time", "value": publish_seconds, "unit": "s", "target": "-"},
        {"name": f"publish bench: add {reports:,} reports via add_reports_bulk (not in the publish figure)",
         "value": reports / add_seconds, "unit": "rec/s", "target": "-"},
    ]  # fmt: skip


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else REPORTS
    for row in run(reports=n):
        print(f"{row['name']:<80} {row['value']:>12,.1f} {row['unit']:<6} target {row['target']}")
