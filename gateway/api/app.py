"""The FastAPI application of a gateway: ``create_app(settings or context)``.

``crossblock serve`` runs it with uvicorn; with several workers uvicorn imports
``gateway.api.app:app_from_env`` as a factory (``--factory``), which reads ``CROSSBLOCK_COUNTRY``
and ``CROSSBLOCK_CONFIG`` like every CLI command.

Layout of the package:

* ``app.py`` (here) — the factory: state, lifespan, problem handlers, routers.
* ``deps.py`` — dependency aliases: state, context, DB session, roles, rate-limited check caller.
* ``auth.py`` — API keys (hashed at rest), key cache, token-bucket rate limiter.
* ``problems.py`` — RFC 9457 problem documents; the only place domain errors become HTTP statuses.
* ``checks.py`` — in-memory aggregation of check counters, flushed to the stats tables.
* ``schemas/`` — request/response models, one module per resource, with OpenAPI examples.
* ``routers/`` — one module per resource; the list of routers the app includes is
  :data:`gateway.api.routers.ROUTERS` (add a new router there).

OpenAPI is served at ``/openapi.json``, Swagger UI at ``/docs``, ReDoc at ``/redoc``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.api.auth import KeyCache, RateLimiter
from gateway.api.checks import CheckCounter
from gateway.api.deps import ApiState
from gateway.api.fastlane import FastLane, GatewayApp
from gateway.api.problems import Problem, install_problem_handlers, openapi_components, problem_responses
from gateway.api.routers import ROUTERS
from gateway.api.routers.operations import install as install_operations
from gateway.api.schemas.n5g import ProblemDetails3gpp
from gateway.context import GatewayContext
from gateway.errors import ConfigurationError
from gateway.services.status import Policy, StatusLookup
from gateway.settings import GatewaySettings, load_settings

__all__ = ["app_from_env", "create_app"]

_DESCRIPTION = """\
CrossBlock gateway of one country: cross-border stolen/lost/tampered device blocklists on a
permissioned ledger (ITU-T Res. 97).

Authenticate with `Authorization: Bearer <API key>` (create keys with
`crossblock keys create --role regulator|operator|auditor|admin`). Every error is an RFC 9457
`application/problem+json` document; the 3GPP N5g-eir endpoint uses TS 29.571 ProblemDetails.
"""

_TAGS = [
    {"name": "regulator", "description": "National regulator: report devices, follow own batches."},
    {"name": "operator", "description": "Mobile operator (EIR): device status checks."},
    {"name": "3gpp", "description": "3GPP TS 29.511 N5g-eir Equipment Identity Check (role: operator)."},
]


def _build_state(context: GatewayContext) -> ApiState:
    settings = context.settings
    return ApiState(
        context=context,
        keys=KeyCache(context.sessions, ttl=settings.api_key_cache_seconds),
        limiter=RateLimiter(rate=settings.api_rate_limit, burst=settings.api_rate_burst),
        lookup=StatusLookup(context.engine),
        checks=CheckCounter(
            context.sessions, country=settings.country, interval=settings.stats_flush_seconds
        ),
        policy=Policy.from_settings(settings),
    )


def create_app(source: GatewaySettings | GatewayContext) -> GatewayApp:
    """The gateway's HTTP application for ``source`` (settings, or an existing context to share).

    The database is migrated here. The check-statistics flush thread runs while the app's lifespan
    is active (uvicorn, or ``TestClient`` used as a context manager); without a lifespan, counts
    stay in memory until ``app.state.api.checks.flush()``.
    """
    context = source if isinstance(source, GatewayContext) else GatewayContext(source)
    state = _build_state(context)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.checks.start()
        try:
            yield
        finally:
            state.checks.stop()
            state.lookup.close()

    app = GatewayApp(
        title=f"CrossBlock gateway {context.settings.country}",
        version="1.0.0",
        description=_DESCRIPTION,
        openapi_tags=_TAGS,
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry hook costs a provider lookup per request; metrics are
        # Prometheus (routers/operations.py).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.api = state
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_operations(app)  # metrics registry and middleware, audit jobs
    app.fast_lane = FastLane(state=state, metrics=app.state.metrics)  # in front of the middlewares
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with problem schemas registered and FastAPI's default 422 replaced.

    Routers document their problem answers with :func:`gateway.api.problems.problem_responses`,
    which refer to ``#/components/schemas/Problem``; FastAPI's own ``HTTPValidationError`` 422 is
    not what this API answers, so it is replaced by the problem document (or dropped where the
    route documents no 422, as the N5g-eir endpoint answers 400 instead).
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(openapi_components(Problem, ProblemDetails3gpp))
    default_422 = problem_responses(422)[422]
    malformed_400 = problem_responses(400)[400] | {"description": "The request body cannot be parsed"}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "requestBody" in operation:  # a body that is not even decodable JSON is a 400
                responses.setdefault("400", malformed_400)
            answer = responses.get("422")
            if answer is None:
                continue
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref", "").endswith("/HTTPValidationError"):
                if operation.get("tags") == ["3gpp"]:
                    del responses["422"]
                else:
                    responses["422"] = default_422
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = spec
    return spec


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory gateway.api.app:app_from_env`` (several workers).

    Reads ``CROSSBLOCK_COUNTRY`` and optionally ``CROSSBLOCK_CONFIG``.
    """
    country = os.environ.get("CROSSBLOCK_COUNTRY")
    if not country:
        raise ConfigurationError("CROSSBLOCK_COUNTRY is not set")
    config = os.environ.get("CROSSBLOCK_CONFIG")
    return create_app(load_settings(country=country, config=Path(config) if config else None))
