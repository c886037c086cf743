"""In-process gateway apps on a real anvil devnet, for the API tests where the chain matters.

:func:`devnet_of_own` starts a devnet for one test module (an audit must not see batches that other
modules publish on the shared devnet on purpose, such as forged ones). :func:`open_app` builds one
country's app the way ``crossblock serve`` does (``create_app`` on the devnet settings), with an API
key per role, and an httpx client on it (Starlette's TestClient, lifespan included); the
country's publisher and syncer are driven in-process through :class:`DevnetGateway`, so each step
is deterministic.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from gateway.api.app import create_app
from gateway.api.auth import ROLES, create_api_key
from ledger_node.devnet import Devnet
from tests.conftest import free_port
from tests.integration.gateways import DevnetGateway

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@dataclass
class DevnetApi:
    """One country's gateway: its services, its app, a client and a key per role."""

    gateway: DevnetGateway
    app: FastAPI
    http: TestClient
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        """``Authorization`` header of the key with ``role``."""
        return {"Authorization": f"Bearer {self.keys[role]}"}


@contextmanager
def devnet_of_own(root: Path) -> Iterator[Devnet]:
    """A devnet (anvil, ledger, IN/BR/KE/DE) for the duration of the block."""
    net = Devnet(root, port=free_port())
    net.up()
    try:
        yield net
    finally:
        net.down()


@contextmanager
def open_app(net: Devnet, country: str, data_dir: Path, **overrides: Any) -> Iterator[DevnetApi]:
    """``country``'s gateway app on ``net`` with its database in ``data_dir``."""
    gateway = DevnetGateway(net, country, data_dir, dict(overrides))
    app = create_app(gateway.settings)
    keys: dict[str, str] = {}
    with app.state.api.context.sessions.begin() as session:
        for role in ROLES:
            keys[role], _row = create_api_key(session, role=role, label=f"test {role}")
    with TestClient(app, raise_server_exceptions=False) as http:
        yield DevnetApi(gateway=gateway, app=app, http=http, keys=keys)
