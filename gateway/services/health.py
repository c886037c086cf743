"""Operational facts of a gateway: how far behind the chain it is, what waits, what is held back.

Read by ``/readyz`` (:func:`readiness`) and by the Prometheus collector (:mod:`gateway.metrics`),
each time they are asked: nothing is cached, so what they report is the database and node now.

*Sync lag* is the number of blocks between the sync cursor and the newest block the syncer would
apply (``latest - confirmations``), never negative; before the first sync it counts from
``deploy_block``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway.services.apply import Sql, read_cursor
from gateway.services.blocklist import feed_head
from gateway.settings import GatewaySettings
from ledger_node.errors import NodeUnavailableError

__all__ = ["Backlog", "Check", "Readiness", "backlog", "node_block_number", "readiness", "sync_lag"]


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the database holds back or has not finished: counts by kind."""

    sync_block: int | None
    outbox_depth: int
    outbox_oldest: int | None  # created_at (Unix seconds) of the oldest record not yet in a batch
    quarantined: dict[str, int]  # state (rejected | held) -> batches
    published: dict[str, int]  # state (signed | submitted | confirmed) -> batches
    feed_head: int


def backlog(*, engine: Engine) -> Backlog:
    """The counters of :class:`Backlog`, read in one short transaction."""
    with engine.connect() as conn:
        sql = Sql(conn)
        cursor = read_cursor(conn)
        outbox, oldest = sql.one("SELECT count(*), min(created_at) FROM outbox WHERE batch_seq IS NULL")
        quarantined = {
            str(s): int(n) for s, n in sql.all("SELECT state, count(*) FROM quarantine GROUP BY state")
        }
        published = {
            str(s): int(n) for s, n in sql.all("SELECT state, count(*) FROM published_batches GROUP BY state")
        }
        head = feed_head(conn)
    return Backlog(
        sync_block=None if cursor is None else cursor[0],
        outbox_depth=int(outbox),
        outbox_oldest=None if oldest is None else int(oldest),
        quarantined=quarantined,
        published=published,
        feed_head=head,
    )


def sync_lag(*, settings: GatewaySettings, latest_block: int, sync_block: int | None) -> int:
    """Blocks between the sync cursor and ``latest_block - confirmations`` (0 when caught up)."""
    target = latest_block - settings.confirmations
    done = settings.deploy_block - 1 if sync_block is None else sync_block
    return max(0, target - done)


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness check: ``ok`` and what was seen."""

    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Readiness:
    """The readiness checks (``database``, ``node``, ``sync``); ready when all are ok."""

    checks: dict[str, Check] = field(default_factory=dict)
    latest_block: int | None = None
    sync_block: int | None = None
    lag: int | None = None

    @property
    def ready(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks.values())


def node_block_number(*, rpc_url: str, timeout: float = 2.0) -> int:
    """``eth_blockNumber`` of the node, with a short timeout (a probe, not the ledger client).

    Raises:
        NodeUnavailableError: no answer within ``timeout``, or an error or malformed answer.
    """
    try:
        response = httpx.post(
            rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
            timeout=timeout,
        )
        response.raise_for_status()
        return int(response.json()["result"], 16)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise NodeUnavailableError(f"node at {rpc_url} did not answer eth_blockNumber: {exc}") from exc


def readiness(*, settings: GatewaySettings, engine: Engine, timeout: float = 2.0) -> Readiness:
    """Database up, node reachable (within ``timeout`` s), sync lag within ``settings.ready_max_sync_lag``."""
    checks: dict[str, Check] = {}
    started = time.perf_counter()
    sync_block: int | None = None
    try:
        with engine.connect() as conn:
            cursor = read_cursor(conn)
        sync_block = None if cursor is None else cursor[0]
        checks["database"] = Check(True, f"{engine.dialect.name} up", time.perf_counter() - started)
    except SQLAlchemyError as exc:
        checks["database"] = Check(False, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
    started = time.perf_counter()
    latest: int | None = None
    try:
        latest = node_block_number(rpc_url=settings.rpc_url, timeout=timeout)
        checks["node"] = Check(True, f"latest block {latest}", time.perf_counter() - started)
    except NodeUnavailableError as exc:
        checks["node"] = Check(False, str(exc), time.perf_counter() - started)
    lag: int | None = None
    if latest is not None and checks["database"].ok:
        lag = sync_lag(settings=settings, latest_block=latest, sync_block=sync_block)
        bound = settings.ready_max_sync_lag
        never = "" if sync_block is not None else "; never synced"
        checks["sync"] = Check(lag <= bound, f"{lag} blocks behind (bound {bound}){never}", 0.0)
    else:
        checks["sync"] = Check(False, "unknown: needs the database and the node", 0.0)
    return Readiness(checks=checks, latest_block=latest, sync_block=sync_block, lag=lag)
