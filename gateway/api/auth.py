"""API keys, roles and the per-key rate limit.

Keys: ``cbk_<43 url-safe characters>`` (256 random bits), shown once by ``crossblock keys create``.
Only ``sha256(key)`` is stored (:class:`gateway.db.models.ApiKey`), with the first characters as a
``prefix`` to recognise a key in listings. Clients send ``Authorization: Bearer <key>``.

Roles: ``regulator`` (reports, own batches), ``operator`` (device checks, N5g-eir, blocklist),
``auditor`` (history, batches of any country, audit), ``admin`` (everything). A route declares
the roles it admits with :func:`gateway.api.deps.require_role`; ``admin`` is always admitted.

:class:`KeyCache` keeps verified keys in memory for a few seconds so that the hot check endpoints do
not query the database per request; a revoked key stops working within that TTL. Unknown keys are
remembered (negatively) for a shorter time, with a bounded size.

:class:`RateLimiter` is a token bucket per key (in memory, per worker process: with N workers a key
may use up to N times the rate). Routers of the check endpoints depend on
:data:`gateway.api.deps.CheckLimited`; a request without tokens gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.models import ApiKey
from gateway.errors import GatewayError

__all__ = [
    "KEY_PREFIX",
    "ROLES",
    "InvalidRoleError",
    "KeyCache",
    "Principal",
    "RateLimiter",
    "UnknownApiKeyError",
    "create_api_key",
    "hash_key",
    "list_api_keys",
    "revoke_api_key",
]

ROLES = ("regulator", "operator", "auditor", "admin")
KEY_PREFIX = "cbk_"
_SHOWN_PREFIX = 12  # characters of the key kept in clear as ``ApiKey.prefix``
MAX_LABEL = 128  # ``ApiKey.label`` column size
_RECENT_KEYS = 1_024  # verified keys remembered as sent (the cache is emptied when full)


class InvalidRoleError(GatewayError):
    """An API key role that is not one of :data:`ROLES`."""


class InvalidKeyLabelError(GatewayError):
    """An API key label longer than :data:`MAX_LABEL` characters."""


class UnknownApiKeyError(GatewayError):
    """No API key with the given id."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, role, label and prefix (never the key itself)."""

    key_id: int
    role: str
    label: str
    prefix: str

    def has_role(self, *roles: str) -> bool:
        """Whether this key may call an endpoint admitting ``roles`` (admin may call every endpoint)."""
        return self.role == "admin" or self.role in roles


def hash_key(key: str) -> bytes:
    """The stored form of a key: its SHA-256 digest."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def create_api_key(
    session: Session, *, role: str, label: str = "", now: int | None = None
) -> tuple[str, ApiKey]:
    """Create a key with ``role``: returns the key (to show once) and its stored row (hash only).

    Does not commit. Raises :class:`InvalidRoleError` for an unknown role and
    :class:`InvalidKeyLabelError` for a label longer than :data:`MAX_LABEL` characters.
    """
    if role not in ROLES:
        raise InvalidRoleError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if len(label) > MAX_LABEL:
        raise InvalidKeyLabelError(f"label: at most {MAX_LABEL} characters, got {len(label)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        key_hash=hash_key(key),
        prefix=key[:_SHOWN_PREFIX],
        role=role,
        label=label,
        created_at=int(time.time()) if now is None else now,
    )
    session.add(row)
    session.flush()
    return key, row


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every API key (hash and prefix only), oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)).all())


def revoke_api_key(session: Session, *, key_id: int, now: int | None = None) -> ApiKey:
    """Revoke key ``key_id`` (idempotent); servers stop accepting it within their key-cache TTL.

    Raises :class:`UnknownApiKeyError` when there is no such key. Does not commit.
    """
    row = session.get(ApiKey, key_id)
    if row is None:
        raise UnknownApiKeyError(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = int(time.time()) if now is None else now
    return row


class KeyCache:
    """Verified API keys by hash, cached ``ttl`` seconds (unknown ones ``negative_ttl`` seconds)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ttl: float = 5.0,
        negative_ttl: float = 1.0,
        max_negative: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max_negative = max_negative
        self._clock = clock
        self._known: dict[bytes, tuple[float, Principal]] = {}
        self._unknown: OrderedDict[bytes, float] = OrderedDict()
        # Valid keys as sent, with the expiry of their cached hash entry: the hot check endpoints
        # then skip hashing the key on every request (only keys that verified are kept).
        self._recent: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: str) -> Principal | None:
        """The principal of ``key``, or None if it is unknown or revoked."""
        now = self._clock()
        recent = self._recent.get(key)
        if recent is not None and recent[0] > now:
            return recent[1]
        digest = hash_key(key)
        hit = self._known.get(digest)
        if hit is not None and hit[0] > now:
            self._remember(key, hit)
            return hit[1]
        missed = self._unknown.get(digest)
        if missed is not None and missed > now:
            return None
        principal = self._load(digest)
        with self._lock:
            if principal is None:
                self._known.pop(digest, None)
                self._unknown[digest] = now + self._negative_ttl
                self._unknown.move_to_end(digest)
                while len(self._unknown) > self._max_negative:
                    self._unknown.popitem(last=False)
            else:
                self._unknown.pop(digest, None)
                self._known[digest] = (now + self._ttl, principal)
                self._remember(key, self._known[digest])
        return principal

    def _remember(self, key: str, entry: tuple[float, Principal]) -> None:
        """Skip the hash for a key seen recently (bounded; the entry keeps its expiry)."""
        if len(self._recent) >= _RECENT_KEYS:
            self._recent.clear()
        self._recent[key] = entry

    def _load(self, digest: bytes) -> Principal | None:
        with self._sessions() as session:
            row = session.scalars(
                select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
            ).first()
            if row is None:
                return None
            return Principal(key_id=row.id, role=row.role, label=row.label, prefix=row.prefix)


class RateLimiter:
    """Token buckets per key id: ``rate`` tokens per second, at most ``burst`` stored.

    :meth:`take` returns 0.0 when the request may proceed, else the seconds until enough tokens are
    back (the ``Retry-After`` value). Not thread-safe across processes; safe across threads.
    """

    def __init__(self, *, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # key id -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key_id: int, cost: float = 1.0) -> float:
        """Take ``cost`` tokens from ``key_id``'s bucket; 0.0 if granted, else seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= cost:
                self._buckets[key_id] = (tokens - cost, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (min(cost, self.burst) - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        """``Retry-After`` header value (whole seconds, at least 1) for a wait of ``wait`` seconds."""
        return str(max(1, math.ceil(wait)))
