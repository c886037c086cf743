"""The effective-status engine: the policy fold, the microsecond lookup and the explanation.

Effective status of an IMEI for this gateway (DESIGN.md, "Ledger model") = fold over the latest
record of every country the policy honours (:mod:`gateway.services.entries`):

* a kind the policy maps to BLACKLISTED (default STOLEN, LOST, INVALID) → BLACKLISTED;
* else a kind mapped to GREYLISTED (default DUPLICATED) → GREYLISTED;
* else WHITELISTED.

RECOVERED and WITHDRAWN are the latest record of a country that cleared its own entry: they never
contribute, whatever the policy says. Countries the policy does not honour are ignored. ``origins``
is the sorted, comma-separated list of the countries behind the status ("" when WHITELISTED).

:func:`fold` is the one implementation; :mod:`gateway.services.apply` runs it incrementally for the
IMEIs a batch touches and stores the result in ``DeviceStatus``, which :class:`StatusLookup` reads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.db.models import (
    BLACKLISTED,
    GREYLISTED,
    WHITELISTED,
    DeviceStatus,
    LedgerBatch,
    LedgerRecord,
)
from gateway.settings import GatewaySettings
from ledger_node.identifiers import IMEI_CORE_LENGTH, parse_imei
from ledger_node.record import Kind

__all__ = [
    "STATUS_CODES",
    "STATUS_NAMES",
    "EntryExplanation",
    "Policy",
    "StatusExplanation",
    "StatusLookup",
    "explain",
    "fold",
]

STATUS_NAMES: dict[int, str] = {
    WHITELISTED: "WHITELISTED",
    GREYLISTED: "GREYLISTED",
    BLACKLISTED: "BLACKLISTED",
}
STATUS_CODES: dict[str, int] = {name: code for code, name in STATUS_NAMES.items()}
#: Kinds that clear a country's own entry: never contribute to a status.
CLEARING_KINDS = frozenset({int(Kind.RECOVERED), int(Kind.WITHDRAWN)})


@dataclass(frozen=True, slots=True)
class Policy:
    """The import policy in the form the fold needs: honoured countries and kind → status code."""

    honours: frozenset[str]
    kind_status: dict[int, int] = field(hash=False)

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> Policy:
        """The policy of ``settings`` (``honours`` and ``kind_status``)."""
        return cls.make(honours=settings.honours, kind_status=settings.kind_status)

    @classmethod
    def make(cls, *, honours: Iterable[str], kind_status: dict[str, str]) -> Policy:
        """From country codes and a ``{"STOLEN": "BLACKLISTED", ...}`` mapping (names)."""
        mapping = {
            int(Kind[kind]): STATUS_CODES[status]
            for kind, status in kind_status.items()
            if STATUS_CODES[status] != WHITELISTED and int(Kind[kind]) not in CLEARING_KINDS
        }
        return cls(honours=frozenset(cc.upper() for cc in honours), kind_status=mapping)

    def fingerprint(self) -> str:
        """A stable text form, stored in Meta to notice a policy change (which requires a refold)."""
        kinds = ",".join(f"{Kind(k).name}={STATUS_NAMES[s]}" for k, s in sorted(self.kind_status.items()))
        return f"honours={','.join(sorted(self.honours))};kinds={kinds}"

    def contribution(self, country: str, kind: int) -> int:
        """Status code one country's latest record contributes (WHITELISTED = nothing)."""
        if country not in self.honours:
            return WHITELISTED
        return self.kind_status.get(kind, WHITELISTED)


def fold(entries: Iterable[tuple[str, int]], policy: Policy) -> tuple[int, str]:
    """Effective ``(status code, origins)`` from ``(country, kind)`` latest entries of one IMEI."""
    best = WHITELISTED
    origins: list[str] = []
    honours, kind_status = policy.honours, policy.kind_status
    for country, kind in entries:
        if country not in honours:
            continue
        status = kind_status.get(kind, WHITELISTED)
        if status == WHITELISTED:
            continue
        if status > best:
            best = status
            origins = [country]
        elif status == best:
            origins.append(country)
    if best == WHITELISTED:
        return WHITELISTED, ""
    return best, ",".join(sorted(set(origins)))


# ------------------------------------------------------------------------------------------- lookup

_LOOKUP_SQL = "SELECT status, origins FROM device_status WHERE imei = ?"
# status() and statuses() read only listed rows: on SQLite device_status is a WITHOUT ROWID table
# (migration 0004), so a lookup is one descent of its primary-key B-tree. A WHITELISTED row answers
# (WHITELISTED, "") like no row, so skipping those rows changes no answer. find(), which tells
# "never listed" from "whitelisted", reads any row.
_LISTED_FROM = f"FROM device_status WHERE status != {WHITELISTED} AND imei"
_LISTED_SQL = f"SELECT status, origins {_LISTED_FROM} = ?"
# An IMEI's records in key order (country, seq, idx): the last kind per country is its latest entry.
_ENTRIES_SQL = (
    "SELECT country, kind FROM ledger_records WHERE imei = ? AND kind < 16 ORDER BY country, seq, idx"
)
# status(), origins and entries() of a listed IMEI in one statement (one read transaction): the
# device_status row, then its records in key order; no row when the IMEI is not listed.
_DEVICE_SQL = (
    "SELECT d.status, d.origins, r.country, r.kind FROM device_status d "
    "LEFT JOIN ledger_records r ON r.imei = d.imei AND r.kind < 16 "
    f"WHERE d.imei = ? AND d.status != {WHITELISTED} ORDER BY r.country, r.seq, r.idx"
)
_IN_CHUNK = 500  # IMEIs per IN (...) probe of the batch lookup
# Lookup connections read the database file through a memory map (up to this size): a page that is
# not in SQLite's own cache costs a memory access instead of a pread() system call and a copy. On
# 1,000,000 records (a 300 MB file, far beyond the 32 MB page cache) it takes a quarter off the
# CPU time of a status plus reasons lookup.
_MMAP_BYTES = 1 << 30
_UNLISTED: tuple[int, str] = (WHITELISTED, "")


class _Local(threading.local):
    conn: sqlite3.Connection | None = None


class StatusLookup:
    """The hot-path status lookup: one primary-key probe of ``device_status``, no ORM.

    On a SQLite file each thread gets its own read-only ``sqlite3`` connection (created on first use,
    statements cached by the driver); WAL mode lets it read while the syncer writes, and every
    lookup sees the last committed sync. So an instance may be shared by any number of threads
    (HTTP workers) without locking. On other databases (PostgreSQL, in-memory SQLite) it falls back
    to a short SQLAlchemy Core query per call on a pooled connection (serialized for in-memory SQLite).

    ``status(imei14)`` takes the 14-digit IMEI core (parse user input first with
    :func:`ledger_node.identifiers.parse_imei`) and returns ``(status code, origins)``; an IMEI on no
    list is ``(WHITELISTED, "")``.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = _Local()
        self._lock = threading.Lock()
        # The generic path is serialized only for SQLite (in-memory); PostgreSQL serves concurrent
        # lookups from the engine's connection pool.
        self._generic_lock: AbstractContextManager[object] = (
            self._lock if engine.dialect.name == "sqlite" else nullcontext()
        )
        self._all: list[sqlite3.Connection] = []
        database = engine.url.database
        self._path: str | None = None
        if (
            engine.dialect.name == "sqlite"
            and database
            and database != ":memory:"
            and not database.startswith("file:")
        ):
            self._path = database

    def _connect(self) -> sqlite3.Connection:
        assert self._path is not None
        conn = sqlite3.connect(
            f"file:{self._path}?mode=ro", uri=True, check_same_thread=False, cached_statements=16
        )
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA cache_size=-32768")
        conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
        with self._lock:
            self._all.append(conn)
        self._local.conn = conn
        return conn

    def status(self, imei14: str) -> tuple[int, str]:
        """``(status code, origins)`` of a 14-digit IMEI core."""
        conn = self._local.conn
        if conn is None:
            if self._path is None:
                return self._status_generic(imei14)
            conn = self._connect()
        row: tuple[int, str] | None = conn.execute(_LISTED_SQL, (imei14,)).fetchone()
        return _UNLISTED if row is None else row

    def _status_generic(self, imei14: str) -> tuple[int, str]:
        query = select(DeviceStatus.status, DeviceStatus.origins).where(DeviceStatus.imei == imei14)
        with self._generic_lock, self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _UNLISTED if row is None else (int(row[0]), str(row[1]))

    def find(self, imei14: str) -> tuple[int, str] | None:
        """``(status code, origins)`` of a 14-digit core, or None if the IMEI was never listed here."""
        conn = self._local.conn
        if conn is None:
            if self._path is None:
                query = select(DeviceStatus.status, DeviceStatus.origins).where(DeviceStatus.imei == imei14)
                with self._generic_lock, self._engine.connect() as generic:
                    found = generic.execute(query).first()
                return None if found is None else (int(found[0]), str(found[1]))
            conn = self._connect()
        row: tuple[int, str] | None = conn.execute(_LOOKUP_SQL, (imei14,)).fetchone()
        return row

    def statuses(self, cores: Sequence[str]) -> dict[str, tuple[int, str]]:
        """``{core: (status code, origins)}`` for the listed ones among ``cores`` (chunked IN queries).

        IMEIs absent from the result are WHITELISTED (never listed, or no longer). The IMEIs are probed in
        sorted order: neighbouring probes share B-tree pages (a quarter less time for 10,000).
        """
        found: dict[str, tuple[int, str]] = {}
        unique = sorted(set(cores))
        conn = self._local.conn
        if conn is None and self._path is not None:
            conn = self._connect()
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            if conn is not None:
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT imei, status, origins {_LISTED_FROM} IN ({marks})", chunk)
                found.update((imei, (status, origins)) for imei, status, origins in rows)
            else:
                query = select(DeviceStatus.imei, DeviceStatus.status, DeviceStatus.origins).where(
                    DeviceStatus.imei.in_(chunk)
                )
                with self._generic_lock, self._engine.connect() as generic:
                    found.update((str(r[0]), (int(r[1]), str(r[2]))) for r in generic.execute(query))
        return found

    def device(self, imei14: str) -> tuple[int, str, list[tuple[str, int]]]:
        """``status(imei14)`` and, for a listed IMEI, ``entries(imei14)``, read together.

        One statement on SQLite files (half the per-query work of the two calls); an unlisted IMEI is
        ``(WHITELISTED, "", [])``.
        """
        conn = self._local.conn
        if conn is None:
            if self._path is None:
                status, origins = self._status_generic(imei14)
                return status, origins, self.entries(imei14) if status != WHITELISTED else []
            conn = self._connect()
        rows: list[tuple[int, str, str | None, int | None]] = conn.execute(_DEVICE_SQL, (imei14,)).fetchall()
        if not rows:
            return WHITELISTED, "", []
        latest = {cc: kind for _status, _origins, cc, kind in rows if cc is not None and kind is not None}
        return rows[0][0], rows[0][1], list(latest.items())

    def entries(self, imei14: str) -> list[tuple[str, int]]:
        """``(country, kind)`` of every country's latest record of a 14-digit core (the fold's input)."""
        conn = self._local.conn
        if conn is None and self._path is not None:
            conn = self._connect()
        if conn is not None:
            rows: Iterable[tuple[str, int]] = conn.execute(_ENTRIES_SQL, (imei14,))
            return list(dict(rows).items())
        query = (
            select(LedgerRecord.country, LedgerRecord.kind)
            .where(LedgerRecord.imei == imei14, LedgerRecord.kind < 0x10)
            .order_by(LedgerRecord.country, LedgerRecord.seq, LedgerRecord.idx)
        )
        with self._generic_lock, self._engine.connect() as generic:
            return list({str(r[0]): int(r[1]) for r in generic.execute(query)}.items())

    def status_name(self, imei14: str) -> str:
        """``"WHITELISTED"``, ``"GREYLISTED"`` or ``"BLACKLISTED"``."""
        return STATUS_NAMES[self.status(imei14)[0]]

    def close(self) -> None:
        """Close every per-thread connection (the instance must not be used afterwards)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    def __enter__(self) -> StatusLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------ explain


@dataclass(frozen=True, slots=True)
class EntryExplanation:
    """One country's latest record of an IMEI, with where it sits on the chain."""

    country: str
    kind: str
    reported_at: int
    seq: int
    index: int
    signer: str
    block_number: int
    tx_hash: str
    contributes: str  # status this record contributes: WHITELISTED when it does not count
    note: str  # why it does or does not count


@dataclass(frozen=True, slots=True)
class StatusExplanation:
    """Why an IMEI has its effective status here (``crossblock check IMEI``)."""

    imei: str
    status: str
    origins: list[str]
    contributing: list[EntryExplanation]
    other_entries: list[EntryExplanation]
    stored_status: str | None  # what DeviceStatus holds (None: no row, i.e. never listed)
    change_id: int | None

    @property
    def consistent(self) -> bool:
        """Whether the stored status equals the fold recomputed under the given policy."""
        stored = self.stored_status or "WHITELISTED"
        return stored == self.status


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return f"typeKind 0x{kind:02x}"


def explain(session: Session, *, imei: str, settings: GatewaySettings) -> StatusExplanation:
    """Explain the effective status of ``imei`` (any IMEI form) under ``settings``' policy.

    Every country's latest record is listed with its batch seq, index, signer, block and
    transaction; ``contributing`` are those behind the status, ``other_entries`` the ones that do
    not count (country not honoured, cleared by RECOVERED/WITHDRAWN, a lesser status).

    Raises:
        InvalidIdentifierError: ``imei`` is not a valid IMEI.
    """
    core = imei if len(imei) == IMEI_CORE_LENGTH and imei.isdigit() else parse_imei(imei)
    policy = Policy.from_settings(settings)
    query = (
        select(LedgerRecord, LedgerBatch.signer, LedgerBatch.block_number, LedgerBatch.tx_hash)
        .join(
            LedgerBatch, (LedgerBatch.country == LedgerRecord.country) & (LedgerBatch.seq == LedgerRecord.seq)
        )
        .where(LedgerRecord.imei == core, LedgerRecord.kind < 0x10)
        .order_by(LedgerRecord.country, LedgerRecord.seq, LedgerRecord.idx)
    )
    # Each country's latest record (the last of its rows in key order) is its entry.
    rows: list[Any] = list({row[0].country: row for row in session.execute(query)}.values())
    status, origins = fold(((row[0].country, row[0].kind) for row in rows), policy)
    origin_set = set(origins.split(",")) if origins else set()
    contributing: list[EntryExplanation] = []
    others: list[EntryExplanation] = []
    for entry, signer, block, tx_hash in rows:
        contributes = policy.contribution(entry.country, entry.kind)
        if entry.country not in policy.honours:
            note = f"{entry.country} is not honoured by this gateway's policy"
        elif entry.kind in CLEARING_KINDS:
            note = f"{entry.country} cleared its entry ({_kind_name(entry.kind)})"
        elif contributes == WHITELISTED:
            note = f"{_kind_name(entry.kind)} maps to WHITELISTED under this policy"
        elif entry.country in origin_set:
            note = f"{_kind_name(entry.kind)} → {STATUS_NAMES[contributes]}"
        else:
            note = (
                f"{_kind_name(entry.kind)} → {STATUS_NAMES[contributes]}, outranked by {STATUS_NAMES[status]}"
            )
        item = EntryExplanation(
            country=entry.country,
            kind=_kind_name(entry.kind),
            reported_at=entry.reported_at,
            seq=entry.seq,
            index=entry.idx,
            signer=signer,
            block_number=block,
            tx_hash="0x" + bytes(tx_hash).hex(),
            contributes=STATUS_NAMES[contributes],
            note=note,
        )
        (contributing if entry.country in origin_set else others).append(item)
    stored = session.get(DeviceStatus, core)
    return StatusExplanation(
        imei=core,
        status=STATUS_NAMES[status],
        origins=sorted(origin_set),
        contributing=contributing,
        other_entries=others,
        stored_status=None if stored is None else STATUS_NAMES.get(stored.status, str(stored.status)),
        change_id=None if stored is None else stored.change_id,
    )
