"""The fast lane: the two hottest endpoints answered without FastAPI's routing and dependency solving.

``GET /v1/devices/{imei}`` (without query parameters) and ``GET /n5g-eir-eic/v1/equipment-status``
are what an operator's EIR calls on every attach, thousands of times a second. FastAPI's per-request
work (route matching, dependency resolution, parameter validation) costs several times the lookup
itself, so this ASGI middleware answers those two requests directly. It is not a second
implementation: it calls the same functions as the routes (:func:`gateway.api.deps.check_caller`
for the key, role and rate limit; :func:`gateway.api.routers.devices.device_answer`;
:func:`gateway.api.routers.n5g_eir.equipment_status`) and renders the same problem documents, so
the answers are byte-for-byte those of the routes (tests compare both). Everything else — other
methods and paths, ``?explain=true``, anything unusual — goes on to FastAPI untouched, and the
routes remain what OpenAPI documents.

It sits inside the other middlewares (it is added first), and sets ``scope["route"]`` to the
documented route, so request metrics label these requests as usual.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.deps import ApiState, check_caller
from gateway.api.problems import PROBLEM_JSON, ProblemError, problem_body
from gateway.api.routers import devices, n5g_eir
from gateway.api.routers.devices import device_answer, parse_path_imei
from gateway.api.routers.n5g_eir import PATH as EIR_PATH
from gateway.api.routers.n5g_eir import equipment_status

__all__ = ["DEVICE_PREFIX", "FastLane", "install_fast_lane"]

log = logging.getLogger("gateway.api")

DEVICE_PREFIX = "/v1/devices/"
_DEVICE_ROUTE = DEVICE_PREFIX + "{imei}"
_JSON = b"application/json"


def _bearer_token(scope: Scope) -> str:
    """The token of an ``Authorization: Bearer`` header, as FastAPI's HTTPBearer reads it ("" if none)."""
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return ""
            return token.strip()
    return ""


def _dumps(body: Any) -> bytes:
    # The same encoding as starlette's JSONResponse.
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


class FastLane:
    """ASGI middleware answering the check GETs of :mod:`gateway.api.routers.devices` / ``n5g_eir``."""

    def __init__(self, app: ASGIApp, *, state: ApiState, routes: Mapping[str, BaseRoute]) -> None:
        self.app = app
        self.state = state
        self.device_route = routes.get(_DEVICE_ROUTE)
        self.eir_route = routes.get(EIR_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(DEVICE_PREFIX) and not scope["query_string"]:
                imei = path[len(DEVICE_PREFIX) :]
                if imei and "/" not in imei and self.device_route is not None:
                    scope["route"] = self.device_route
                    await self._answer(send, path, self._device, _bearer_token(scope), imei)
                    return
            elif path == EIR_PATH and self.eir_route is not None:
                scope["route"] = self.eir_route
                await self._answer(send, path, self._eir, _bearer_token(scope), scope["query_string"])
                return
        await self.app(scope, receive, send)

    def _device(self, token: str, imei: str) -> dict[str, object]:
        check_caller(self.state, token)
        return device_answer(self.state, parse_path_imei(imei))

    def _eir(self, token: str, query: bytes) -> dict[str, object]:
        check_caller(self.state, token)
        params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
        answer = equipment_status(
            self.state, pei=params.get("pei"), supi=params.get("supi"), gpsi=params.get("gpsi")
        )
        return dict(answer)

    async def _answer(self, send: Send, path: str, handler: Any, token: str, argument: Any) -> None:
        headers: list[tuple[bytes, bytes]]
        try:
            body = _dumps(handler(token, argument))
            status, media, headers = 200, _JSON, []
        except ProblemError as problem:
            document = problem_body(
                status=problem.status,
                slug=problem.slug,
                title=problem.title,
                detail=problem.detail,
                instance=path,
                extra=problem.extra,
            )
            body = _dumps(document)
            status, media = problem.status, PROBLEM_JSON.encode()
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in problem.headers.items()]
        except Exception:
            log.exception("unhandled error on GET %s", path)
            document = problem_body(
                status=500,
                slug="internal-error",
                title="Internal Server Error",
                detail="the gateway failed to handle this request; the error is logged",
                instance=path,
            )
            body, status, media, headers = _dumps(document), 500, PROBLEM_JSON.encode(), []
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append((b"content-type", media))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def install_fast_lane(app: FastAPI, state: ApiState) -> None:
    """Add the fast lane to ``app`` (call after the routers are included, before other middlewares)."""
    routes = {getattr(route, "path", ""): route for route in (*devices.router.routes, *n5g_eir.router.routes)}
    app.add_middleware(FastLane, state=state, routes=routes)
