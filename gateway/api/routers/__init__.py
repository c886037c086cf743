"""Routers, one module per resource; :data:`ROUTERS` is what the app includes, in this order.

| module | routes | roles |
|---|---|---|
| ``reports`` | ``POST /v1/reports``, ``POST /v1/reports/{imei}/recovery`` | regulator |
| ``batches`` | ``GET /v1/batches`` (own published batches) | regulator |
| ``devices`` | ``GET /v1/devices/{imei}``, ``POST /v1/devices/check`` | operator (rate-limited) |
| ``n5g_eir`` | ``GET /n5g-eir-eic/v1/equipment-status`` (3GPP TS 29.511) | operator (rate-limited) |
| ``blocklist`` | ``GET /v1/blocklist`` (CSV/NDJSON stream), ``GET /v1/blocklist/changes?after=`` | operator |
| ``auditor`` | ``GET /v1/devices/{imei}/history``, ``GET /v1/countries/{cc}/batches``, | auditor |
| | ``POST /v1/audit/verify``, ``GET /v1/audit/jobs/{job_id}`` | |
| ``stats`` | ``GET /v1/stats`` (first ``state.checks.flush()``) | regulator, auditor |
| ``operations`` | ``/healthz``, ``/readyz``, ``/metrics`` (see ``operations.install``) | none (no API key) |

Conventions: each module defines ``router = APIRouter(tags=[...])`` with full paths; roles via the
aliases of :mod:`gateway.api.deps`; request/response models in :mod:`gateway.api.schemas` with
``examples``; errors documented with :func:`gateway.api.problems.problem_responses`; domain errors
are left to propagate (they are mapped in :mod:`gateway.api.problems`). Database work goes in sync
``def`` endpoints (FastAPI runs them in its thread pool) inside ``with session.begin():``; the hot
check endpoints are ``async def`` and touch only in-memory state and the status lookup.
"""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.routers import auditor, batches, blocklist, devices, n5g_eir, operations, reports, stats

__all__ = ["ROUTERS"]

ROUTERS: list[APIRouter] = [
    reports.router,
    batches.router,
    devices.router,
    n5g_eir.router,
    blocklist.router,
    auditor.router,
    stats.router,
    operations.router,
]
