"""Fixtures of the HTTP API tests: an in-process gateway app with keys for every role, and a ledger
helper that applies batches into its database the way the syncer does (real batches, real apply).

The app runs in-process through Starlette's TestClient (an httpx client on the ASGI app, lifespan
included). Tests against a real ``crossblock serve`` process on anvil are in test_serve_anvil.py.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from gateway.api.app import create_app
from gateway.api.auth import ROLES, create_api_key
from gateway.services.apply import ZERO_HASH, apply_batch
from gateway.services.status import Policy
from gateway.services.verify import verify_batch
from gateway.settings import GatewaySettings
from ledger_node.batch import Batch
from ledger_node.events import BatchEvent, LogPosition
from ledger_node.identifiers import imei15, parse_imei
from ledger_node.record import Kind, Record, pack_records
from ledger_node.signer import LocalSigner, sign_batch

with warnings.catch_warnings():  # starlette suggests httpx2; the installed httpx works as is
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

COUNTRY = "BR"
HONOURS = ["BR", "DE", "IN"]  # KE is on the ledger but not honoured here
CHAIN_ID = 31337
LEDGER = "0x" + "11" * 20
KEY = LocalSigner(bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"))


def imei(n: int) -> str:
    """A valid 15-digit IMEI derived from ``n``."""
    return imei15(f"3569{n:010d}")


class Ledger:
    """Builds signed batches per country and applies them as the syncer does after verification."""

    def __init__(self, app: FastAPI) -> None:
        self.engine = app.state.api.context.engine
        self.policy: Policy = app.state.api.policy
        self.heads: dict[str, tuple[int, bytes]] = {}
        self.block = 10

    def publish(self, country: str, entries: list[tuple[str, Kind]]) -> None:
        """Apply one batch of ``country`` holding ``(imei, kind)`` records."""
        seq, head = self.heads.get(country, (0, ZERO_HASH))
        records = pack_records(
            Record(parse_imei(i), kind, 1_760_000_000 + n, os.urandom(4))
            for n, (i, kind) in enumerate(entries)
        )
        batch = Batch.build(country, seq + 1, head, records)
        self.block += 1
        event = BatchEvent(
            country=country,
            seq=seq + 1,
            signer=KEY.address,
            prev_head=head,
            records_hash=batch.records_hash,
            merkle_root=batch.merkle_root,
            count=batch.count,
            signature=sign_batch(KEY, batch, CHAIN_ID, LEDGER),
            records=records,
            position=LogPosition(self.block, self.block.to_bytes(32, "big"), os.urandom(32), 0),
        )
        verified = verify_batch(
            event,
            expected_seq=seq + 1,
            expected_prev_head=head,
            chain_id=CHAIN_ID,
            ledger_address=LEDGER,
            signer_active=lambda *_: True,
        )
        with self.engine.begin() as conn:
            apply_batch(conn, verified, policy=self.policy)
        self.heads[country] = (seq + 1, verified.head)


@dataclass
class Api:
    """An in-process gateway: the app, a client, a key per role, and its ledger helper."""

    app: FastAPI
    client: TestClient
    keys: dict[str, str]
    ledger: Ledger
    extra_keys: list[str] = field(default_factory=list)

    def auth(self, role: str) -> dict[str, str]:
        """``Authorization`` header of the key with ``role``."""
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def new_key(self, role: str) -> str:
        """Create one more key with ``role``."""
        with self.app.state.api.context.sessions.begin() as session:
            key, _row = create_api_key(session, role=role, label="extra")
        return key

    def flush_checks(self) -> int:
        """Write the counted checks now."""
        return int(self.app.state.api.checks.flush())


def make_settings(tmp_path: Path, **overrides: Any) -> GatewaySettings:
    """Settings of an off-chain test gateway (the endpoints under test never touch the node)."""
    values: dict[str, Any] = {
        "country": COUNTRY,
        "ledger_address": LEDGER,
        "data_dir": tmp_path / "gateway",
        "honours": HONOURS,
        "stats_flush_seconds": 3600.0,  # tests flush explicitly
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Factory: an in-process gateway with settings ``overrides``; closed at the end of the test."""
    opened: list[TestClient] = []

    def factory(**overrides: Any) -> Api:
        app = create_app(make_settings(tmp_path / f"g{len(opened)}", **overrides))
        keys: dict[str, str] = {}
        with app.state.api.context.sessions.begin() as session:
            for role in ROLES:
                keys[role], _row = create_api_key(session, role=role, label=f"test {role}")
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return Api(app=app, client=client, keys=keys, ledger=Ledger(app))

    yield factory
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """An in-process gateway with default settings."""
    return make_api()
