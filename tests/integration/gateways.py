"""Whole gateways on a devnet for the acceptance tests: settings, database, publisher, syncer, audit.

A :class:`DevnetGateway` is one country's gateway with a database of its own, wired the way
``crossblock --country CC`` wires it on the devnet (keystores, import policy from
devnet/countries.toml), but with its data directory wherever the test wants it. The same gateway can
be driven in-process (the services) or as a separate process (:meth:`DevnetGateway.run`), which
shares its database.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.db.models import OutboxRecord, PublishedBatch
from gateway.services.audit import AuditReport, audit_verify
from gateway.services.publisher import Publisher, PublishReport
from gateway.services.status import STATUS_NAMES, StatusLookup
from gateway.services.syncer import Syncer, SyncReport
from gateway.settings import GatewaySettings
from ledger_node.client import LedgerClient
from ledger_node.devnet import Devnet
from ledger_node.paths import REPO_ROOT
from ledger_node.signer import LocalSigner

CROSSBLOCK = REPO_ROOT / ".venv" / "bin" / "crossblock"


@dataclass
class DevnetGateway:
    """One country's gateway on ``net`` with its database in ``data_dir``."""

    net: Devnet
    country: str
    data_dir: Path
    overrides: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def settings(self) -> GatewaySettings:
        """What ``load_settings(country=CC)`` gives on this devnet, with the data dir and overrides."""
        deployment = self.net.deployment()
        values: dict[str, Any] = {
            "country": self.country,
            "rpc_url": self.net.rpc_url,
            "ledger_address": deployment.ledger,
            "deploy_block": deployment.deploy_block,
            "data_dir": self.data_dir,
            "signer_keystore": self.net.keystore_path(self.country, "signer"),
            "relayer_keystore": self.net.keystore_path(self.country, "relayer"),
            "keystore_password_file": self.net.password_file,
            "honours": deployment.countries[self.country]["honours"],
        }
        values.update(self.overrides)
        return GatewaySettings(**values)

    @cached_property
    def engine(self) -> Engine:
        """The gateway's database, migrated."""
        engine = make_engine(self.settings.database)
        migrate(engine)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Session factory on the gateway's database."""
        return session_factory(self.engine)

    @cached_property
    def client(self) -> LedgerClient:
        """A ledger client on the gateway's RPC URL."""
        return LedgerClient.connect(self.settings.rpc_url, self.settings.ledger_address)

    # ------------------------------------------------------------------------------ in-process
    def publisher(self) -> Publisher:
        """The country's publisher, signing with its devnet key."""
        return Publisher(
            country=self.country,
            engine=self.engine,
            client=self.client,
            signer=LocalSigner(self.net.account(self.country, "signer").key),
            relayer=self.net.account(self.country, "relayer"),
            batch_size=self.settings.batch_size,
            batch_max_age=self.settings.batch_max_age,
            deploy_block=self.settings.deploy_block,
        )

    def publish(self) -> PublishReport:
        """Publish everything in the outbox."""
        return self.publisher().publish_once()

    def sync(self, client: LedgerClient | None = None) -> SyncReport:
        """One sync run (through ``client`` if given, e.g. a lying node)."""
        with Syncer(
            settings=self.settings, engine=self.engine, client=client or self.client, verify_workers=0
        ) as s:
            return s.sync_once()

    def audit(self, country: str | None = None) -> AuditReport:
        """``audit verify`` against the honest node."""
        return audit_verify(settings=self.settings, engine=self.engine, client=self.client, country=country)

    def statuses(self, imeis: list[str]) -> dict[str, tuple[str, str]]:
        """``imei -> (status name, origins)`` from the stored effective status."""
        with StatusLookup(self.engine) as lookup:
            return {imei: (STATUS_NAMES[s], o) for imei in imeis for s, o in [lookup.status(imei)]}

    def count(self, model: type, *where: Any) -> int:
        """Rows of ``model`` matching ``where``."""
        with self.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def outbox_records(self) -> list[bytes]:
        """Every record this gateway queued for publishing, in order."""
        with self.sessions() as s:
            return [bytes(r) for r in s.scalars(select(OutboxRecord.record).order_by(OutboxRecord.id))]

    def published(self) -> list[PublishedBatch]:
        """This gateway's own batches, by seq."""
        with self.sessions() as s:
            return list(s.scalars(select(PublishedBatch).order_by(PublishedBatch.seq)))

    # ------------------------------------------------------------------------------ as a process
    def env(self, failpoint: str | None = None) -> dict[str, str]:
        """Environment of a ``crossblock`` process serving this gateway on this devnet."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSBLOCK_") and k != "PYTHONPATH"}
        env.update(
            CROSSBLOCK_DEVNET_DIR=str(self.net.root),
            CROSSBLOCK_DEVNET_PORT=str(self.net.port),
            CROSSBLOCK_COUNTRY=self.country,
            CROSSBLOCK_DATA_DIR=str(self.data_dir),
            PYTHONPATH=str(REPO_ROOT),
        )
        for key, value in self.overrides.items():
            env["CROSSBLOCK_" + key.upper()] = value if isinstance(value, str) else json.dumps(value)
        if failpoint is not None:
            env["CROSSBLOCK_FAILPOINT"] = failpoint
        return env

    def run(
        self,
        *args: str,
        failpoint: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``crossblock ARGS`` for this gateway as a separate process (``env``: extra variables)."""
        return subprocess.run(
            [str(CROSSBLOCK), *args],
            cwd=REPO_ROOT,
            env=self.env(failpoint) | (env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def records_on_chain(
    client: LedgerClient, country: str, *, from_block: int
) -> tuple[list[int], Counter[bytes]]:
    """The seqs of ``country``'s batches on chain, in log order, and how often each record occurs."""
    seqs: list[int] = []
    records: Counter[bytes] = Counter()
    for event in client.fetch_batches(from_block=from_block, country=country):
        seqs.append(event.seq)
        records.update(event.records[i : i + 16] for i in range(0, len(event.records), 16))
    return seqs, records
