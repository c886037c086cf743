"""Prometheus metrics of a gateway: request latency, and state gauges computed when scraped.

:class:`GatewayMetrics` owns a private :class:`prometheus_client.CollectorRegistry` (not the global
one, so several apps in one process, as in tests, do not collide) holding:

* ``crossblock_http_request_duration_seconds{method, route, status}``: a histogram observed by
  :class:`MetricsMiddleware` for every HTTP request, ``route`` being the route's path template
  (``/v1/devices/{imei}``, bounded cardinality) or ``unmatched``; a streamed response is timed to
  its last byte;
* gauges read from the database and the node at scrape time (:mod:`gateway.services.health`):
  ``crossblock_sync_lag_blocks`` (blocks behind the applicable chain head),
  ``crossblock_chain_head_block``, ``crossblock_sync_cursor_block``, ``crossblock_node_up``,
  ``crossblock_database_up``, ``crossblock_outbox_depth`` (records not yet in a batch),
  ``crossblock_outbox_oldest_age_seconds`` (how long the oldest of them has waited),
  ``crossblock_quarantined_batches{state}`` (rejected | held),
  ``crossblock_published_batches{state}`` (signed | submitted | confirmed),
  ``crossblock_blocklist_feed_head`` (newest change id of the delta feed).

With several uvicorn workers each process has its own histogram (a scrape reaches one worker); the
gauges are the same in every worker since they are read from the shared database and node.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.services.health import backlog, node_block_number, sync_lag
from gateway.settings import GatewaySettings
from ledger_node.errors import NodeUnavailableError

__all__ = ["CONTENT_TYPE", "GatewayMetrics", "MetricsMiddleware"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Latency buckets (seconds): fine below 10 ms for the check endpoints, up to the snapshot stream.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_QUARANTINE_STATES = ("rejected", "held")
_PUBLISH_STATES = ("signed", "submitted", "confirmed")


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _by_state(name: str, doc: str, counts: dict[str, int], states: Iterable[str]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["state"])
    for state in sorted({*states, *counts}):
        family.add_metric([state], counts.get(state, 0))
    return family


class _StateCollector(Collector):
    """Gauges computed from the database and the node each time the registry is collected."""

    def __init__(self, *, settings: GatewaySettings, engine: Engine, node_timeout: float) -> None:
        self.settings = settings
        self.engine = engine
        self.node_timeout = node_timeout

    def collect(self) -> Iterable[Metric]:
        sync_block: int | None = None
        try:
            facts = backlog(engine=self.engine)
        except SQLAlchemyError:
            yield _gauge("crossblock_database_up", "1 if the gateway database answered", 0)
        else:
            sync_block = facts.sync_block
            yield _gauge("crossblock_database_up", "1 if the gateway database answered", 1)
            yield _gauge("crossblock_outbox_depth", "reported records not yet in a batch", facts.outbox_depth)
            age = 0.0 if facts.outbox_oldest is None else max(0.0, time.time() - facts.outbox_oldest)
            yield _gauge(
                "crossblock_outbox_oldest_age_seconds",
                "age of the oldest record not yet in a batch (0: none)",
                age,
            )
            yield _by_state(
                "crossblock_quarantined_batches",
                "batches held back from the ledger view by verification (rejected) or behind one (held)",
                facts.quarantined,
                _QUARANTINE_STATES,
            )
            yield _by_state(
                "crossblock_published_batches",
                "this country's signed batches by publication state",
                facts.published,
                _PUBLISH_STATES,
            )
            yield _gauge(
                "crossblock_blocklist_feed_head",
                "newest change id of the blocklist delta feed",
                facts.feed_head,
            )
            if sync_block is not None:
                yield _gauge("crossblock_sync_cursor_block", "last block applied by the syncer", sync_block)
        try:
            latest = node_block_number(rpc_url=self.settings.rpc_url, timeout=self.node_timeout)
        except NodeUnavailableError:
            yield _gauge("crossblock_node_up", "1 if the ledger node answered eth_blockNumber", 0)
            return
        yield _gauge("crossblock_node_up", "1 if the ledger node answered eth_blockNumber", 1)
        yield _gauge("crossblock_chain_head_block", "latest block of the ledger node", latest)
        yield _gauge(
            "crossblock_sync_lag_blocks",
            "blocks between the sync cursor and the applicable chain head (latest - confirmations)",
            sync_lag(settings=self.settings, latest_block=latest, sync_block=sync_block),
        )


class GatewayMetrics:
    """The registry of one gateway app: the request histogram and the scrape-time gauges."""

    def __init__(self, *, settings: GatewaySettings, engine: Engine, node_timeout: float = 2.0) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Histogram(
            "crossblock_http_request_duration_seconds",
            "HTTP request latency, to the last byte of the response",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._series: dict[tuple[str, str, int], Any] = {}
        self.registry.register(_StateCollector(settings=settings, engine=engine, node_timeout=node_timeout))

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Record one request (the labelled series are cached: ``labels()`` costs more than ``observe``)."""
        key = (method, route, status)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = self.requests.labels(method, route, str(status))
        child.observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (gauges computed now)."""
        return bytes(generate_latest(self.registry))


class MetricsMiddleware:
    """ASGI middleware timing each HTTP request into :attr:`GatewayMetrics.requests`."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"  # bounded label values
            self.metrics.observe(
                method=method, route=path, status=status, seconds=time.perf_counter() - started
            )
