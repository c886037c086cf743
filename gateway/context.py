"""Wiring: from settings to a migrated database, a ledger client, and the country's keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.errors import ConfigurationError
from gateway.services.publisher import Publisher
from gateway.settings import GatewaySettings
from ledger_node.accounts import load_account
from ledger_node.client import LedgerClient
from ledger_node.signer import KeystoreSigner


@dataclass
class GatewayContext:
    """Lazily built resources of one gateway process."""

    settings: GatewaySettings

    @cached_property
    def engine(self) -> Engine:
        """The database engine, schema migrated to the latest revision."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(self.settings.database)
        migrate(engine)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Session factory on :attr:`engine`."""
        return session_factory(self.engine)

    @cached_property
    def client(self) -> LedgerClient:
        """Ledger client (checks the contract exists)."""
        return LedgerClient.connect(self.settings.rpc_url, self.settings.ledger_address)

    @cached_property
    def signer(self) -> KeystoreSigner:
        """The country's batch signing key."""
        if self.settings.signer_keystore is None:
            raise ConfigurationError("no signer_keystore configured: this gateway cannot publish")
        return KeystoreSigner.from_file(self.settings.signer_keystore, self.settings.password())

    @cached_property
    def relayer(self) -> LocalAccount:
        """The account that pays for and sends transactions."""
        if self.settings.relayer_keystore is None:
            raise ConfigurationError("no relayer_keystore configured: this gateway cannot send transactions")
        return load_account(self.settings.relayer_keystore, self.settings.password())

    def publisher(self, *, clock: Callable[[], float] = time.time) -> Publisher:
        """The publisher of this gateway (its settings, database, node, signer and relayer)."""
        s = self.settings
        return Publisher(
            country=s.country,
            engine=self.engine,
            client=self.client,
            signer=self.signer,
            relayer=self.relayer,
            batch_size=s.batch_size,
            batch_max_age=s.batch_max_age,
            deploy_block=s.deploy_block,
            clock=clock,
        )
