"""Operations: ``/healthz`` (liveness), ``/readyz`` (readiness), ``/metrics`` (Prometheus). No API key.

:func:`install` wires what these endpoints and the auditor's audit jobs need into an app: the
:class:`gateway.metrics.GatewayMetrics` registry with its request-timing middleware, and the
:class:`gateway.services.audit_jobs.AuditJobs` of the app.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from gateway.api.deps import StateDep
from gateway.api.problems import PROBLEM_JSON, PROBLEM_SCHEMA, problem_type
from gateway.api.routers.auditor import make_audit_jobs
from gateway.api.schemas.operations import HealthOut, ReadyOut
from gateway.metrics import CONTENT_TYPE, GatewayMetrics, MetricsMiddleware
from gateway.services.health import readiness

__all__ = ["install", "router"]

router = APIRouter(tags=["operations"])


def install(app: FastAPI) -> None:
    """Add the metrics registry and middleware and the audit jobs to ``app`` (before it starts)."""
    context = app.state.api.context
    metrics = GatewayMetrics(settings=context.settings, engine=context.engine)
    app.state.metrics = metrics
    app.state.audit_jobs = make_audit_jobs(context)
    app.add_middleware(MetricsMiddleware, metrics=metrics)


@router.get("/healthz", response_model=HealthOut, summary="Liveness")
async def healthz(state: StateDep) -> dict[str, Any]:
    """The process is up and serving. Checks nothing else (see `/readyz`). No API key."""
    return {"status": "ok", "country": state.settings.country}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="Readiness: database, node, sync lag",
    responses={
        503: {
            "description": "Not ready: a problem document whose `checks` say which check failed",
            "content": {
                PROBLEM_JSON: {
                    "schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"},
                    "example": {
                        "type": problem_type("not-ready"),
                        "title": "Service Unavailable",
                        "status": 503,
                        "detail": "not ready: sync",
                        "instance": "/readyz",
                        "checks": {
                            "database": {"ok": True, "detail": "sqlite up"},
                            "node": {"ok": True, "detail": "latest block 1200"},
                            "sync": {"ok": False, "detail": "1100 blocks behind (bound 20)"},
                        },
                    },
                }
            },
        }
    },
)
async def readyz(state: StateDep, request: Request) -> Any:
    """Ready when the database answers, the ledger node answers `eth_blockNumber` (2 s timeout),
    and the sync cursor trails the applicable chain head (`latest - confirmations`) by at most
    `ready_max_sync_lag` blocks (setting, default 20). 503 problem otherwise, naming the failed
    checks. No API key."""
    result = await run_in_threadpool(readiness, settings=state.settings, engine=state.context.engine)
    checks = {name: {"ok": c.ok, "detail": c.detail} for name, c in result.checks.items()}
    body: dict[str, Any] = {
        "ready": result.ready,
        "checks": checks,
        "latest_block": result.latest_block,
        "sync_block": result.sync_block,
        "lag": result.lag,
    }
    if result.ready:
        return body
    failed = ", ".join(name for name, c in result.checks.items() if not c.ok)
    problem = {
        "type": problem_type("not-ready"),
        "title": "Service Unavailable",
        "status": 503,
        "detail": f"not ready: {failed}",
        "instance": request.url.path,
        **body,
    }
    return JSONResponse(problem, status_code=503, media_type=PROBLEM_JSON)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition: request latency histograms, sync lag, outbox "
            "depth, quarantined batches (gauges computed at scrape time)",
            "content": {
                "text/plain": {
                    "schema": {"type": "string"},
                    "example": "# TYPE crossblock_sync_lag_blocks gauge\ncrossblock_sync_lag_blocks 0.0\n",
                }
            },
        }
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this gateway (text format 0.0.4). No API key: expose the port only to
    the monitoring network."""
    registry: GatewayMetrics = request.app.state.metrics
    body = await run_in_threadpool(registry.render)
    return Response(body, media_type=CONTENT_TYPE)
