"""Every HTTP error as an RFC 9457 ``application/problem+json`` document — the one place errors become HTTP.

A problem has ``type`` (a URN naming the kind of problem, ``urn:crossblock:problem:<slug>``),
``title`` (the same for every occurrence of that type), ``status``, ``detail`` (this occurrence) and
``instance`` (the request path). Validation problems (422) add ``invalid_params``: one
``{"name", "in", "reason"}`` entry per invalid field, named as the client sent it (``imei``,
``items/3/kind``, ...).

How errors get here:

* Routers raise :class:`ProblemError` for HTTP-level conditions (401, 403, 404, 413, 429 ...).
* Services raise domain errors (:class:`gateway.errors.GatewayError`,
  :class:`ledger_node.errors.CrossBlockError` subclasses); routers let them propagate and
  :data:`DOMAIN_PROBLEMS` maps them here, and only here, to a status and a problem type. Add a row
  when you add a domain error that can reach the HTTP edge.
* FastAPI request validation errors become 422 with ``invalid_params``.
* Starlette's own HTTP errors (404 unknown route, 405 method) become problems too.
* Anything else is a 500 ``internal-error`` whose detail does not leak internals (it is logged).

The 3GPP N5g-eir endpoint has its own TS 29.571 ``ProblemDetails`` flavour (``cause``,
``invalidParams``): routers/n5g_eir.py raises :class:`ProblemError` with ``extra`` members for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.errors import (
    AuditBusyError,
    ConfigurationError,
    CursorAheadError,
    FeedRequestError,
    ForeignBlockError,
    GatewayError,
    NotBlockedError,
    PublishConflictError,
    ReportRejectedError,
    SyncError,
)
from ledger_node.errors import (
    CrossBlockError,
    InvalidCountryError,
    InvalidIdentifierError,
    NodeUnavailableError,
)

__all__ = [
    "DOMAIN_PROBLEMS",
    "ITEM_PROBLEMS",
    "PROBLEM_JSON",
    "PROBLEM_SCHEMA",
    "InvalidParam",
    "Problem",
    "ProblemError",
    "install_problem_handlers",
    "invalid_field",
    "item_problem",
    "openapi_components",
    "problem_body",
    "problem_example",
    "problem_response",
    "problem_responses",
    "problem_type",
]

log = logging.getLogger("gateway.api")

PROBLEM_JSON = "application/problem+json"
_TYPE_PREFIX = "urn:crossblock:problem:"


def problem_type(slug: str) -> str:
    """The ``type`` URI of a problem slug (``invalid-identifier`` → ``urn:crossblock:problem:...``)."""
    return _TYPE_PREFIX + slug


class InvalidParam(BaseModel):
    """One invalid request field."""

    name: str = Field(description="the field as the client sent it: `imei`, `items/3/kind`, `pei`")
    # ``in`` is a Python keyword: the model field is ``location``, serialized as ``in``.
    location: str = Field(
        serialization_alias="in", validation_alias="in", description="path, query, header or body"
    )
    reason: str

    model_config = ConfigDict(populate_by_name=True)


class Problem(BaseModel):
    """RFC 9457 problem details (the schema of every error response)."""

    type: str = Field(examples=["urn:crossblock:problem:invalid-identifier"])
    title: str = Field(examples=["Invalid request"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["imei: invalid device identifier '1234': wrong length"])
    instance: str = Field(examples=["/v1/devices/1234"])
    invalid_params: list[InvalidParam] | None = Field(
        default=None, description="present on validation problems: every invalid field by name"
    )
    cause: str | None = Field(default=None, description="TS 29.571 application error cause (N5g-eir only)")

    model_config = ConfigDict(extra="allow")


class ProblemError(Exception):
    """Raise from a router to answer with a problem document.

    ``extra`` adds members to the document (e.g. ``cause`` for 3GPP); ``headers`` are sent along
    (``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(detail)


#: Domain error → (HTTP status, problem slug, title). The most specific class must come first.
DOMAIN_PROBLEMS: Sequence[tuple[type[Exception], int, str, str]] = (
    (InvalidIdentifierError, 422, "invalid-identifier", "Invalid device identifier"),
    (InvalidCountryError, 422, "invalid-country", "Invalid country code"),
    (ForeignBlockError, 409, "foreign-block", "Blocked by another country"),
    (NotBlockedError, 409, "not-blocked", "No active entry to clear"),
    (ReportRejectedError, 422, "report-rejected", "Report rejected"),
    (ConfigurationError, 503, "not-configured", "Gateway not configured for this operation"),
    (NodeUnavailableError, 503, "node-unavailable", "Ledger node unavailable"),
    (SyncError, 503, "sync-unavailable", "Synchronisation unavailable"),
    (PublishConflictError, 409, "publish-conflict", "Publication conflict"),
    (CursorAheadError, 409, "cursor-ahead", "Feed cursor not issued here"),
    (FeedRequestError, 422, "invalid-feed-request", "Invalid feed request"),
    (AuditBusyError, 429, "audit-busy", "Too many audits running"),
)


#: Per-item error codes of :func:`gateway.services.reports.add_reports_bulk` → (status, slug, title).
ITEM_PROBLEMS: Mapping[str, tuple[int, str, str]] = {
    "invalid_identifier": (422, "invalid-identifier", "Invalid device identifier"),
    "rejected": (422, "report-rejected", "Report rejected"),
    "not_blocked": (409, "not-blocked", "No active entry to clear"),
    "foreign_block": (409, "foreign-block", "Blocked by another country"),
}
_FIELDS = ("kind", "reported_at", "case_ref", "imei")


def invalid_field(name: str, location: str, reason: str, *, slug: str = "validation-error") -> ProblemError:
    """A 422 problem naming one invalid request field."""
    return ProblemError(
        422,
        slug,
        f"{name}: {reason}",
        title="Invalid request",
        extra={"invalid_params": [{"name": name, "in": location, "reason": reason}]},
    )


def item_problem(code: str, detail: str, *, location: str = "body") -> ProblemError:
    """The problem for a single report whose service result is the error ``code`` / ``detail``.

    Validation-like codes name the invalid field (``imei``, or the field the message starts with).
    """
    status, slug, title = ITEM_PROBLEMS.get(code, (422, "report-rejected", "Report rejected"))
    extra: dict[str, Any] = {}
    if code == "invalid_identifier":
        extra["invalid_params"] = [{"name": "imei", "in": location, "reason": detail}]
    elif code == "rejected":
        name, sep, reason = detail.partition(": ")
        if sep and name in _FIELDS:
            extra["invalid_params"] = [{"name": name, "in": "body", "reason": reason}]
    return ProblemError(status, slug, detail, title=title, extra=extra)


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """Build the ``application/problem+json`` response."""
    body = problem_body(
        status=status, slug=slug, title=title, detail=detail, instance=request.url.path, extra=extra
    )
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


def problem_body(
    *, status: int, slug: str, title: str, detail: str, instance: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The problem document (RFC 9457 members, then ``extra``)."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if extra:
        body.update(extra)
    return body


def _field_name(loc: Sequence[int | str]) -> tuple[str, str]:
    """``("body", "items", 3, "kind")`` → ``("items/3/kind", "body")``."""
    if not loc:
        return "", "body"
    where = str(loc[0])
    # Tags of callable-discriminated unions (``~one``/``~many``) are not client field names.
    parts = [str(p) for p in loc[1:] if not (isinstance(p, str) and p.startswith("~"))]
    if where == "body" and not parts:
        return "(body)", where
    return "/".join(parts), where


def _reason(error: Mapping[str, Any]) -> str:
    msg = str(error.get("msg", "invalid"))
    # pydantic prefixes messages from ValueError raised in validators.
    return msg.removeprefix("Value error, ")


async def _on_api_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    params: list[dict[str, str]] = []
    for error in exc.errors():
        name, where = _field_name(error.get("loc", ()))
        params.append({"name": name, "in": where, "reason": _reason(error)})
    detail = "; ".join(f"{p['name']}: {p['reason']}" for p in params) or "invalid request"
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="Invalid request",
        detail=detail,
        extra={"invalid_params": params},
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    slug = {404: "not-found", 405: "method-not-allowed"}.get(status, phrase.lower().replace(" ", "-"))
    return problem_response(
        request,
        status=status,
        slug=slug,
        title=phrase,
        detail=detail,
        headers=dict(exc.headers or {}),
    )


async def _on_domain(request: Request, exc: Exception) -> JSONResponse:
    for cls, status, slug, title in DOMAIN_PROBLEMS:
        if isinstance(exc, cls):
            return problem_response(request, status=status, slug=slug, title=title, detail=str(exc))
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal Server Error",
        detail="the gateway failed to handle this request; the error is logged",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""
    app.add_exception_handler(ProblemError, _on_api_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(GatewayError, _on_domain)
    app.add_exception_handler(CrossBlockError, _on_domain)
    app.add_exception_handler(Exception, _on_unexpected)


_DESCRIPTIONS = {
    400: "The body is not valid JSON text (e.g. not UTF-8)",
    401: "Missing or invalid API key (`WWW-Authenticate: Bearer`)",
    403: "The API key's role may not call this endpoint",
    404: "Not found",
    409: "Conflict with the register's rules",
    413: "Too many items in one request",
    422: "Invalid request: `invalid_params` names every invalid field",
    429: "Rate limit exceeded: retry after `Retry-After` seconds",
    500: "Internal error",
    503: "A dependency (ledger node, keystore) is unavailable",
}
_EXAMPLES: dict[int, tuple[str, str, str]] = {
    400: ("bad-request", "Bad Request", "There was an error parsing the body"),
    401: ("unauthorized", "Unauthorized", "an API key is required: send 'Authorization: Bearer <key>'"),
    403: ("forbidden", "Forbidden", "an API key with role 'auditor' may not call this endpoint"),
    404: ("not-found", "Not Found", "Not Found"),
    409: (
        "foreign-block",
        "Blocked by another country",
        "BR cannot clear IMEI 49015420323751: it is blocked by IN; only the country that blocked an "
        "IMEI can clear its own block",
    ),
    413: ("too-many-items", "Content Too Large", "10001 identifiers in one request; at most 10000"),
    422: ("validation-error", "Invalid request", "imei: bad check digit 9, expected 8"),
    429: (
        "rate-limited",
        "Too Many Requests",
        "rate limit of 100 requests/s (burst 200) exceeded for this key",
    ),
    500: (
        "internal-error",
        "Internal Server Error",
        "the gateway failed to handle this request; the error is logged",
    ),
    503: (
        "node-unavailable",
        "Ledger node unavailable",
        "cannot reach the ledger node at http://127.0.0.1:8545",
    ),
}
#: OpenAPI component names of the problem schemas (registered by :func:`openapi_components`).
PROBLEM_SCHEMA = "Problem"


def problem_example(status: int, instance: str = "/v1/devices/490154203237519") -> dict[str, Any]:
    """An example problem document for ``status``."""
    slug, title, detail = _EXAMPLES.get(
        status, ("error", HTTPStatus(status).phrase, HTTPStatus(status).phrase)
    )
    example: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if status == 422:
        example["invalid_params"] = [
            {"name": "imei", "in": "path", "reason": "bad check digit 9, expected 8"}
        ]
    return example


def problem_responses(*statuses: int, schema: str = PROBLEM_SCHEMA) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries: ``application/problem+json`` answers with ``statuses``."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {
                PROBLEM_JSON: {
                    "schema": {"$ref": f"#/components/schemas/{schema}"},
                    "example": problem_example(status),
                }
            },
        }
        for status in statuses
    }


def openapi_components(*models: type[BaseModel]) -> dict[str, Any]:
    """JSON schemas of ``models`` (and the models they use) for ``components/schemas``."""
    found: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found
