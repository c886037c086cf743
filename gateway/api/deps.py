"""Dependencies of the routers, as ``Annotated`` aliases, and the per-app state they read.

Use in a router::

    @router.get("/v1/things")
    def list_things(session: SessionDep, who: Annotated[Principal, Depends(require_role("auditor"))]) -> ...:
        with session.begin():
            ...

* :data:`StateDep` — the :class:`ApiState` of the app (context, settings, lookup, counters).
* :data:`ContextDep` — the :class:`gateway.context.GatewayContext` (engine, sessions, ledger client).
* :data:`SessionDep` — a fresh ORM session, closed after the request. It is *not* in a
  transaction: open one with ``with session.begin():`` so the commit happens before the response
  is built (dependency exit code may run after the response is sent).
* :func:`require_role` — a dependency factory: 401 without or with an unknown key
  (``WWW-Authenticate: Bearer``), 403 when the key's role is not admitted (admin always is).
  Ready-made aliases: :data:`Regulator`, :data:`Operator`, :data:`Auditor`, :data:`Admin`,
  :data:`AnyRole`.
* :data:`CheckLimited` — like :data:`Operator`, plus one token of the key's rate-limit bucket
  (429 with ``Retry-After`` when empty). For the check endpoints.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from gateway.api.auth import KeyCache, Principal, RateLimiter
from gateway.api.checks import CheckCounter
from gateway.api.problems import ProblemError
from gateway.context import GatewayContext
from gateway.services.status import Policy, StatusLookup
from gateway.settings import GatewaySettings

__all__ = [
    "Admin",
    "AnyRole",
    "ApiState",
    "Auditor",
    "CheckLimited",
    "ContextDep",
    "Operator",
    "Regulator",
    "SessionDep",
    "StateDep",
    "check_caller",
    "get_state",
    "principal_of",
    "require_role",
]

_REALM = 'Bearer realm="crossblock"'


@dataclass
class ApiState:
    """Everything the routers share, built once per app by :func:`gateway.api.app.create_app`."""

    context: GatewayContext
    keys: KeyCache
    limiter: RateLimiter
    lookup: StatusLookup
    checks: CheckCounter
    policy: Policy

    @property
    def settings(self) -> GatewaySettings:
        """The gateway's settings."""
        return self.context.settings


async def get_state(request: Request) -> ApiState:
    """The app's :class:`ApiState` (async: FastAPI would run a sync dependency in its thread pool)."""
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


async def get_context(request: Request) -> GatewayContext:
    """The app's gateway context."""
    state: ApiState = request.app.state.api
    return state.context


ContextDep = Annotated[GatewayContext, Depends(get_context)]


def get_session(request: Request) -> Iterator[Session]:
    """A new session on the gateway database (no transaction open), closed afterwards."""
    state: ApiState = request.app.state.api
    with state.context.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


#: Declares the bearer scheme in OpenAPI (the "Authorize" button of /docs); errors are ours.
_bearer = HTTPBearer(auto_error=False, description="an API key from `crossblock keys create --role R`")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def principal_of(state: ApiState, token: str) -> Principal:
    """The principal of a bearer ``token`` (empty: none sent), or a 401 problem."""
    if not token:
        raise ProblemError(
            401,
            "unauthorized",
            "an API key is required: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": _REALM},
        )
    principal = state.keys.lookup(token)
    if principal is None:
        raise ProblemError(
            401,
            "invalid-api-key",
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": _REALM + ', error="invalid_token"'},
        )
    return principal


def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    token = credentials.credentials.strip() if credentials is not None else ""
    return principal_of(request.app.state.api, token)


def _check_role(principal: Principal, roles: tuple[str, ...], allowed: str) -> None:
    if not principal.has_role(*roles):
        raise ProblemError(
            403,
            "forbidden",
            f"an API key with role {principal.role!r} may not call this endpoint (allowed: {allowed})",
        )


async def authenticate(request: Request, credentials: Credentials) -> Principal:
    """The caller's principal (any role), or a 401 problem."""
    return _principal(request, credentials)


# The role dependencies do their work inline rather than through nested dependencies: FastAPI's
# dependency resolution costs per level, and the check endpoints must stay fast.


RoleDependency = Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]


def require_role(*roles: str) -> RoleDependency:
    """A dependency admitting keys with one of ``roles`` (and admin): 401 / 403 problems otherwise."""
    allowed = ", ".join((*roles, "admin"))

    async def dependency(request: Request, credentials: Credentials) -> Principal:
        principal = _principal(request, credentials)
        _check_role(principal, roles, allowed)
        return principal

    dependency.__name__ = f"require_{'_'.join(roles) or 'any'}"
    return dependency


Regulator = Annotated[Principal, Depends(require_role("regulator"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Auditor = Annotated[Principal, Depends(require_role("auditor"))]
Admin = Annotated[Principal, Depends(require_role())]
AnyRole = Annotated[Principal, Depends(authenticate)]

_OPERATOR = ("operator",)
_OPERATOR_ALLOWED = "operator, admin"


def check_caller(state: ApiState, token: str) -> Principal:
    """The caller of a check endpoint: an operator (or admin) key with a token left in its bucket.

    401 / 403 / 429 (with ``Retry-After``) problems otherwise. Shared by the dependency below and
    the fast lane of :mod:`gateway.api.fastlane`.
    """
    principal = principal_of(state, token)
    _check_role(principal, _OPERATOR, _OPERATOR_ALLOWED)
    limiter = state.limiter
    wait = limiter.take(principal.key_id)
    if wait > 0:
        raise ProblemError(
            429,
            "rate-limited",
            f"rate limit of {limiter.rate:g} requests/s (burst {limiter.burst:g}) exceeded for this key",
            headers={"Retry-After": limiter.retry_after(wait)},
        )
    return principal


async def rate_limited_operator(request: Request, credentials: Credentials) -> Principal:
    """An operator (or admin) key with a token left in its bucket; 429 with Retry-After otherwise."""
    token = credentials.credentials.strip() if credentials is not None else ""
    return check_caller(request.app.state.api, token)


CheckLimited = Annotated[Principal, Depends(rate_limited_operator)]
