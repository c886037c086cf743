"""The fast lane: the two hottest endpoints answered in front of FastAPI's middleware stack.

``GET /v1/devices/{imei}`` (without query parameters) and ``GET /n5g-eir-eic/v1/equipment-status``
are what an operator's EIR calls on every attach, thousands of times a second. FastAPI's per-request
work (its middleware stack, route matching, dependency resolution, parameter validation) costs
several times the lookup itself, so :class:`GatewayApp` hands those two requests to
:class:`FastLane` before any of it. It is not a second implementation: it calls the same functions
as the routes (:func:`gateway.api.deps.check_caller` for the key, role and rate limit;
:func:`gateway.api.routers.devices.device_json`; :func:`gateway.api.routers.n5g_eir.equipment_status`)
and renders the same problem documents, so the answers are byte-for-byte those of the routes (tests
compare both). Everything else — other methods and paths, ``?explain=true``, anything unusual —
goes on to FastAPI untouched, and the routes remain what OpenAPI documents.

The lane records its requests in the request-latency histogram itself
(:meth:`gateway.metrics.GatewayMetrics.observe`, labelled with the documented route), as the
metrics middleware does for the requests it sees. It sends each answer as one
``http.response.start`` and one ``http.response.body`` message, with ``content-length``; served by
:class:`gateway.api.http_protocol.CoalescingHttpToolsProtocol` they leave in one socket write.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from gateway.api.deps import ApiState, check_caller
from gateway.api.problems import PROBLEM_JSON, ProblemError, problem_body
from gateway.api.routers.devices import device_json, parse_path_imei
from gateway.api.routers.n5g_eir import PATH as EIR_PATH
from gateway.api.routers.n5g_eir import equipment_status
from gateway.metrics import GatewayMetrics

__all__ = ["DEVICE_PREFIX", "DEVICE_ROUTE", "FastLane", "GatewayApp"]

log = logging.getLogger("gateway.api")

DEVICE_PREFIX = "/v1/devices/"
DEVICE_ROUTE = DEVICE_PREFIX + "{imei}"
_JSON = b"application/json"
_PROBLEM = PROBLEM_JSON.encode()


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


def _query_params(query: bytes) -> dict[str, str]:
    """The query parameters as FastAPI reads them for a ``str`` parameter (the last of a repeated one).

    The usual ``pei=imei-…`` alone, with nothing to unquote, is read without ``parse_qsl``.
    """
    if query.startswith(b"pei=") and b"&" not in query and b"%" not in query and b"+" not in query:
        return {"pei": query[4:].decode("latin-1")}
    return dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))


class _EirBodies(dict[str, bytes]):
    """The N5g-eir answers ``{"status": NAME}``, each rendered once."""

    def __missing__(self, name: str) -> bytes:
        body = self[name] = _dumps({"status": name})
        return body


class FastLane:
    """Answers the check GETs of :mod:`gateway.api.routers.devices` / ``n5g_eir`` (see the module)."""

    def __init__(self, *, state: ApiState, metrics: GatewayMetrics | None) -> None:
        self.state = state
        self.metrics = metrics
        self._eir_bodies = _EirBodies()

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Answer ``scope`` if it is one of the lane's requests; False (nothing sent) otherwise."""
        if scope["method"] != "GET":
            return False
        path: str = scope["path"]
        handler: Callable[[str, Any], bytes]
        if path.startswith(DEVICE_PREFIX):
            imei = path[len(DEVICE_PREFIX) :]
            if scope["query_string"] or not imei or "/" in imei:
                return False
            route, handler, argument = DEVICE_ROUTE, self._device, imei
        elif path == EIR_PATH:
            route, handler, argument = EIR_PATH, self._eir, scope["query_string"]
        else:
            return False
        started = time.perf_counter()
        status = await self._answer(send, path, handler, _bearer_token(scope), argument)
        if self.metrics is not None:
            seconds = time.perf_counter() - started
            self.metrics.observe(method="GET", route=route, status=status, seconds=seconds)
        return True

    def _device(self, token: str, imei: str) -> bytes:
        check_caller(self.state, token)
        return device_json(self.state, parse_path_imei(imei), imei)

    def _eir(self, token: str, query: bytes) -> bytes:
        check_caller(self.state, token)
        params = _query_params(query)
        answer = equipment_status(
            self.state, pei=params.get("pei"), supi=params.get("supi"), gpsi=params.get("gpsi")
        )
        return self._eir_bodies[answer["status"]]

    async def _answer(
        self, send: Send, path: str, handler: Callable[[str, Any], bytes], token: str, argument: Any
    ) -> int:
        headers: list[tuple[bytes, bytes]]
        try:
            body = handler(token, argument)
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
            status, media = problem.status, _PROBLEM
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
            body, status, media, headers = _dumps(document), 500, _PROBLEM, []
        headers.append((b"content-length", b"%d" % len(body)))
        headers.append((b"content-type", media))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status


class GatewayApp(FastAPI):
    """FastAPI, with the :class:`FastLane` (when set) answering its requests before the middlewares."""

    fast_lane: FastLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.fast_lane
        if lane is not None and scope["type"] == "http" and await lane.answer(scope, send):
            return
        await super().__call__(scope, receive, send)
