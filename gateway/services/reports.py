"""The regulator's changes to the national register, each written with its outbox record.

Transaction convention: every function here takes a :class:`~sqlalchemy.orm.Session` that is already
inside a transaction and **never commits**; the caller owns the transaction, so a register change and
its outbox row always commit (or roll back) together. :func:`in_transaction` is the one-liner for
callers that do not already hold one::

    result = in_transaction(factory, add_report, country="IN", imei="490154203237518", kind="STOLEN")

Register rules (shared with :mod:`gateway.services.importer` through :func:`plan_change`):

* STOLEN, LOST, DUPLICATED, INVALID create an entry, or update our active entry (e.g. LOST → STOLEN).
  An identical repeat (same kind, same case commitment recomputed with the stored salt, same
  ``reported_at`` or none given) is a no-op: no register write, no outbox row.
* RECOVERED and WITHDRAWN need an active (blocking) entry of ours. If we have none but another
  country blocks the IMEI, :class:`~gateway.errors.ForeignBlockError`; if nobody does,
  :class:`~gateway.errors.NotBlockedError`. Repeating the clearing record already in the register is a
  no-op. A clearing record keeps the entry's salt and case commitment (it refers to the same case).
* A new entry (no entry, or our previous one was cleared) gets a fresh 32-byte salt; the case
  reference itself is never stored, only ``case_commitment(salt, case_ref)``.
"""

from __future__ import annotations

import sqlite3
import struct
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.bulk import VALUES_ROWS, values_statements
from gateway.db.models import LedgerRecord, OutboxRecord, RegisterEntry
from gateway.errors import ForeignBlockError, NotBlockedError, ReportRejectedError
from gateway.services.entries import latest_entries
from ledger_node.errors import InvalidIdentifierError
from ledger_node.identifiers import parse_imei
from ledger_node.record import UINT32_MAX, IdType, Kind, case_commitment, new_salt

__all__ = [
    "BLOCKING_KINDS",
    "CLEARING_KINDS",
    "MAX_FUTURE_SECONDS",
    "REPORT_KINDS",
    "VALUES_ROWS",
    "Change",
    "EntryState",
    "ItemResult",
    "OutboxRow",
    "RegisterRow",
    "ReportInput",
    "ReportResult",
    "add_report",
    "add_reports_bulk",
    "check_country",
    "check_reported_at",
    "coerce_kind",
    "foreign_blockers",
    "in_transaction",
    "load_entries",
    "pack_record",
    "plan_change",
    "recover",
    "withdraw",
    "write_changes",
    "write_rows",
]

P = ParamSpec("P")
T = TypeVar("T")

#: Kinds that make an entry active (it blocks or greylists the IMEI).
BLOCKING_KINDS: frozenset[int] = frozenset({Kind.STOLEN, Kind.LOST, Kind.DUPLICATED, Kind.INVALID})
#: Kinds a regulator reports with :func:`add_report`.
REPORT_KINDS = BLOCKING_KINDS
#: Kinds that clear our own active entry.
CLEARING_KINDS: frozenset[int] = frozenset({Kind.RECOVERED, Kind.WITHDRAWN})
#: How far in the future ``reported_at`` may be (clock skew between systems).
MAX_FUTURE_SECONDS = 86_400

#: A register entry as loaded for diffing: ``(kind, reported_at, case_salt, case_commitment)``.
EntryState = tuple[int, int, bytes, bytes]
#: A register row for :func:`write_rows`: ``(kind, reported_at, salt, commitment, updated_at, imei)``.
#: Blobs may be ``bytearray``: Python's sqlite3 binds those directly, ``bytes`` after an adapter lookup.
RegisterRow = tuple[int, int, bytes | bytearray, bytes | bytearray, int, str]
#: An outbox row for :func:`write_rows`: ``(record, imei, kind, created_at)``.
OutboxRow = tuple[bytes | bytearray, str, int, int]

_RECORD = struct.Struct(">B7sI4s")  # docs/record-format.md, "Record: 16 bytes"
_IMEI_TYPE = int(IdType.IMEI) << 4
_KIND_NAMES: dict[str, Kind] = {k.name: k for k in Kind}
_REGISTER = cast(Table, RegisterEntry.__table__)
_OUTBOX = cast(Table, OutboxRecord.__table__)
_IN_CHUNK = 10_000  # IMEIs per IN (...) query: below SQLite (32,766) and PostgreSQL (65,535) limits


@dataclass(frozen=True, slots=True)
class ReportResult:
    """Outcome of one report: ``changed`` is False for an identical repeat (nothing written)."""

    imei: str
    kind: Kind
    changed: bool
    reported_at: int
    previous_kind: Kind | None = None
    record: bytes | None = None


@dataclass(frozen=True, slots=True)
class ReportInput:
    """One item of :func:`add_reports_bulk`; ``kind`` may be any kind, by enum, number or name."""

    imei: str
    kind: Kind | str | int
    reported_at: int | None = None
    case_ref: str = ""


@dataclass(frozen=True, slots=True)
class ItemResult:
    """Per-item outcome of :func:`add_reports_bulk`: a result, or an error message and code.

    ``code`` is one of ``invalid_identifier``, ``rejected``, ``not_blocked``, ``foreign_block``.
    ``imei`` is the identifier as given (it may not parse).
    """

    index: int
    imei: str
    result: ReportResult | None = None
    error: str | None = None
    code: str | None = None

    @property
    def ok(self) -> bool:
        """True when the item was applied (or was an identical repeat)."""
        return self.error is None


class Change(NamedTuple):
    """A planned register change and its record; ``insert`` if the IMEI has no register row yet.

    A named tuple rather than a dataclass: the register import creates one per changed row.
    """

    imei: str
    kind: int
    reported_at: int
    salt: bytes
    commitment: bytes
    record: bytes
    insert: bool


# ----------------------------------------------------------------------------- small helpers


def in_transaction(
    factory: sessionmaker[Session],
    fn: Callable[Concatenate[Session, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run ``fn(session, ...)`` in one transaction of its own (``with factory.begin()``)."""
    with factory.begin() as session:
        return fn(session, *args, **kwargs)


def pack_record(imei: str, kind: int, reported_at: int, commitment: bytes) -> bytes:
    """The 16-byte IMEI record (same bytes as ``ledger_node.record.Record.pack``, without re-validation).

    Callers pass an ``imei`` from :func:`parse_imei` and a checked ``reported_at``.
    """
    return _RECORD.pack(_IMEI_TYPE | kind, bytes.fromhex(imei), reported_at, commitment)


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else now


def coerce_kind(value: Kind | str | int) -> Kind:
    """A kind from its enum, number or (case-insensitive) name.

    Raises:
        ReportRejectedError: unknown kind (the message names the field).
    """
    if isinstance(value, Kind):
        return value
    if isinstance(value, str):
        kind = _KIND_NAMES.get(value.strip().upper())
        if kind is not None:
            return kind
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            return Kind(value)
        except ValueError:
            pass
    raise ReportRejectedError(f"kind: unknown kind {value!r} (expected one of {', '.join(_KIND_NAMES)})")


def check_reported_at(value: object, now: int) -> int:
    """Return ``value`` if it is an int in ``0 .. 2**32-1`` and at most one day after ``now``.

    Raises:
        ReportRejectedError: naming the field ``reported_at``.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise ReportRejectedError(f"reported_at: expected integer Unix seconds, got {value!r}")
    if not 0 <= value <= UINT32_MAX:
        raise ReportRejectedError(f"reported_at: {value} is outside 0 .. {UINT32_MAX} (uint32 Unix seconds)")
    if value > now + MAX_FUTURE_SECONDS:
        raise ReportRejectedError(f"reported_at: {value} is more than one day in the future (now is {now})")
    return value


def _check_case_ref(case_ref: object) -> str:
    if not isinstance(case_ref, str):
        raise ReportRejectedError(f"case_ref: expected a string, got {type(case_ref).__name__}")
    if not case_ref.isascii():
        try:
            case_ref.encode("utf-8")
        except UnicodeEncodeError:
            raise ReportRejectedError("case_ref: not valid UTF-8 text") from None
    return case_ref


def check_country(country: str) -> None:
    """Raise :class:`ReportRejectedError` unless ``country`` is two uppercase ASCII letters."""
    if not (len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()):
        raise ReportRejectedError(f"country: expected an ISO 3166-1 alpha-2 code, got {country!r}")


def _parse_imei(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifierError(repr(value), f"expected a string, got {type(value).__name__}")
    return parse_imei(value)


# ----------------------------------------------------------------------------- planning (pure)


def plan_change(
    *,
    imei: str,
    kind: Kind,
    reported_at: int | None,
    case_ref: str,
    existing: EntryState | None,
    now: int,
) -> Change | None:
    """Apply the register rules to one report; ``None`` means an identical repeat (no-op).

    ``imei`` is a parsed core, ``reported_at`` already checked. ``case_ref`` is ignored for clearing
    kinds. Raises :class:`NotBlockedError` for a clearing kind without an active entry of ours;
    callers turn it into :class:`ForeignBlockError` when another country blocks the IMEI.
    """
    if kind in CLEARING_KINDS:
        if existing is not None and existing[0] == kind and reported_at in (None, existing[1]):
            return None
        if existing is None or existing[0] not in BLOCKING_KINDS:
            verb = "recover" if kind == Kind.RECOVERED else "withdraw"
            raise NotBlockedError(f"IMEI {imei} has no active entry of this country to {verb}")
        salt, commitment = existing[2], existing[3]
    elif existing is not None and existing[0] in BLOCKING_KINDS:
        salt = existing[2]
        commitment = case_commitment(salt, case_ref)
        if existing[0] == kind and commitment == existing[3] and reported_at in (None, existing[1]):
            return None
    else:
        salt = new_salt()
        commitment = case_commitment(salt, case_ref)
    at = now if reported_at is None else reported_at
    return Change(
        imei, int(kind), at, salt, commitment, pack_record(imei, kind, at, commitment), existing is None
    )


# ----------------------------------------------------------------------------- database access


def load_entries(session: Session, imeis: Collection[str], *, lock: bool = False) -> dict[str, EntryState]:
    """Register entries of ``imeis`` (one query per 10,000 IMEIs); ``lock`` selects FOR UPDATE."""
    table = _REGISTER
    cols = (table.c.imei, table.c.kind, table.c.reported_at, table.c.case_salt, table.c.case_commitment)
    found: dict[str, EntryState] = {}
    ordered = sorted(set(imeis))
    for start in range(0, len(ordered), _IN_CHUNK):
        query = select(*cols).where(table.c.imei.in_(ordered[start : start + _IN_CHUNK]))
        if lock:
            query = query.with_for_update()
        for imei, kind, at, salt, commitment in session.execute(query):
            found[imei] = (kind, at, bytes(salt), bytes(commitment))
    return found


def foreign_blockers(session: Session, *, country: str, imeis: Collection[str]) -> dict[str, list[str]]:
    """For each of ``imeis`` blocked by other countries (latest ledger kind blocks): those countries."""
    owners: dict[str, list[str]] = {}
    ordered = sorted(set(imeis))
    cols = (LedgerRecord.imei, LedgerRecord.country, LedgerRecord.kind, LedgerRecord.seq,
            LedgerRecord.idx, LedgerRecord.reported_at)  # fmt: skip
    for start in range(0, len(ordered), _IN_CHUNK):
        query = select(*cols).where(
            LedgerRecord.imei.in_(ordered[start : start + _IN_CHUNK]),
            LedgerRecord.country != country,
            LedgerRecord.kind < 0x10,
        )
        latest = latest_entries(session.execute(query))
        for imei, per_country in sorted(latest.items()):
            blockers = [cc for cc, entry in sorted(per_country.items()) if entry[0] in BLOCKING_KINDS]
            if blockers:
                owners[imei] = blockers
    return owners


_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _sql(connection: Connection) -> tuple[str, str, str]:
    """INSERT entry, UPDATE entry and INSERT outbox statements in the driver's positional paramstyle."""
    mark = _PLACEHOLDERS[connection.dialect.paramstyle]
    marks6 = ", ".join([mark] * 6)
    register, outbox = _REGISTER.name, _OUTBOX.name
    return (
        f"INSERT INTO {register} (kind, reported_at, case_salt, case_commitment, updated_at, imei) "
        f"VALUES ({marks6})",
        f"UPDATE {register} SET kind = {mark}, reported_at = {mark}, case_salt = {mark}, "
        f"case_commitment = {mark}, updated_at = {mark} WHERE imei = {mark}",
        f"INSERT INTO {outbox} (record, imei, kind, created_at) VALUES ({', '.join([mark] * 4)})",
    )


def write_rows(
    conn: Session | Connection,
    *,
    inserts: Sequence[RegisterRow],
    updates: Sequence[RegisterRow],
    outbox: Sequence[OutboxRow],
) -> None:
    """The low-level writer: new register rows, then updated ones, then outbox rows in order.

    In the caller's transaction, sent to the DBAPI driver directly (positional parameters, no
    per-row SQLAlchemy type processing): the register import writes hundreds of thousands of rows
    through here. Inserts go as COPY on PostgreSQL (psycopg), multi-row INSERTs on SQLite, an
    executemany elsewhere; updates as one executemany. An IMEI appears at most once in ``inserts``.
    """
    connection = conn.connection() if isinstance(conn, Session) else conn
    insert_sql, update_sql, outbox_sql = _sql(connection)
    if inserts:
        _insert(connection, _REGISTER_COPY, insert_sql, inserts)
    if updates:
        connection.exec_driver_sql(update_sql, list(updates))
    if outbox:
        _insert(connection, _OUTBOX_COPY, outbox_sql, outbox)


def _insert(connection: Connection, copy: str, insert_sql: str, rows: Sequence[Sequence[object]]) -> None:
    """``rows`` through ``copy`` (PostgreSQL with psycopg), multi-row INSERTs (SQLite) or
    ``insert_sql``'s executemany (other databases)."""
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy(connection, copy, rows)
    elif dialect.name == "sqlite":
        _insert_values(connection, insert_sql, rows)
    else:
        connection.exec_driver_sql(insert_sql, list(rows))


def _insert_values(connection: Connection, insert_sql: str, rows: Sequence[Sequence[object]]) -> None:
    """SQLite: ``insert_sql`` (``INSERT ... VALUES (?, ...)``) for ``rows`` as multi-row INSERTs
    (:func:`gateway.db.bulk.values_statements`), through the connection so that errors come as
    SQLAlchemy's."""
    raw: Any = connection.connection.driver_connection
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    for statement, params, many in values_statements(insert_sql, rows, variable_limit=limit):
        connection.exec_driver_sql(statement, list(params) if many else tuple(params))


_REGISTER_COPY = (
    f"COPY {_REGISTER.name} (kind, reported_at, case_salt, case_commitment, updated_at, imei) FROM STDIN"
)
_OUTBOX_COPY = f"COPY {_OUTBOX.name} (record, imei, kind, created_at) FROM STDIN"


def _copy(connection: Connection, statement: str, rows: Sequence[Sequence[object]]) -> None:
    """PostgreSQL: ``COPY ... FROM STDIN`` on the transaction's own psycopg connection, many times
    faster than row-by-row inserts (triggers and constraints apply as to INSERTs). Driver errors
    are raised as SQLAlchemy ``DBAPIError`` subclasses, as :meth:`Connection.exec_driver_sql` does."""
    import psycopg  # only ever reached with the psycopg driver

    raw: Any = connection.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error, dialect=connection.dialect) from exc


def write_changes(conn: Session | Connection, changes: Sequence[Change], *, now: int) -> None:
    """Write ``changes`` in order: register rows (final state per IMEI) and one outbox row each."""
    if not changes:
        return
    inserted = {c.imei for c in changes if c.insert}
    final = {c.imei: c for c in changes}  # the last change of an IMEI is its register state
    rows = [(c.kind, c.reported_at, c.salt, c.commitment, now, i) for i, c in final.items()]
    write_rows(
        conn,
        inserts=[r for r in rows if r[5] in inserted],
        updates=[r for r in rows if r[5] not in inserted],
        outbox=[(c.record, c.imei, c.kind, now) for c in changes],
    )


# ----------------------------------------------------------------------------- public operations


def _result(imei: str, kind: Kind, existing: EntryState | None, change: Change | None) -> ReportResult:
    previous = Kind(existing[0]) if existing is not None else None
    if change is None:
        assert existing is not None  # a no-op always compares against an entry
        return ReportResult(imei, kind, False, existing[1], previous)
    return ReportResult(imei, kind, True, change.reported_at, previous, change.record)


def _single(
    session: Session,
    *,
    country: str,
    imei: str,
    kind: Kind,
    reported_at: int | None,
    now: int | None,
    case_ref: str = "",
) -> ReportResult:
    check_country(country)
    core = _parse_imei(imei)
    t = _now(now)
    if reported_at is not None:
        check_reported_at(reported_at, t)
    existing = load_entries(session, [core], lock=True).get(core)
    try:
        change = plan_change(
            imei=core, kind=kind, reported_at=reported_at, case_ref=case_ref, existing=existing, now=t
        )
    except NotBlockedError:
        owners = foreign_blockers(session, country=country, imeis=[core]).get(core)
        if owners:
            raise ForeignBlockError(core, country, owners) from None
        raise
    if change is not None:
        write_changes(session, [change], now=t)
    return _result(core, kind, existing, change)


def add_report(
    session: Session,
    *,
    country: str,
    imei: str,
    kind: Kind | str | int,
    reported_at: int | None = None,
    case_ref: str = "",
    now: int | None = None,
) -> ReportResult:
    """Report an IMEI STOLEN, LOST, DUPLICATED or INVALID (new entry, update, or identical no-op).

    Raises:
        InvalidIdentifierError: ``imei`` is not an IMEI in an accepted form.
        ReportRejectedError: other kind, bad ``reported_at`` or ``case_ref`` (message names the field).
    """
    k = coerce_kind(kind)
    if k not in REPORT_KINDS:
        raise ReportRejectedError(
            f"kind: {k.name} is not a report kind (STOLEN, LOST, DUPLICATED, INVALID); "
            "use a recovery or withdrawal"
        )
    return _single(
        session,
        country=country,
        imei=imei,
        kind=k,
        reported_at=reported_at,
        case_ref=_check_case_ref(case_ref),
        now=now,
    )


def recover(
    session: Session,
    *,
    country: str,
    imei: str,
    reported_at: int | None = None,
    now: int | None = None,
) -> ReportResult:
    """Clear our own active block of ``imei`` with a RECOVERED record.

    Raises:
        ForeignBlockError: we have no active entry but other countries block the IMEI.
        NotBlockedError: nobody blocks the IMEI.
    """
    return _single(session, country=country, imei=imei, kind=Kind.RECOVERED, reported_at=reported_at, now=now)


def withdraw(
    session: Session,
    *,
    country: str,
    imei: str,
    reported_at: int | None = None,
    now: int | None = None,
) -> ReportResult:
    """Correct an erroneous entry of ours with a WITHDRAWN record.

    Raises:
        ForeignBlockError: we have no active entry but other countries block the IMEI.
        NotBlockedError: nobody blocks the IMEI.
    """
    return _single(session, country=country, imei=imei, kind=Kind.WITHDRAWN, reported_at=reported_at, now=now)


def _error_code(exc: Exception) -> str:
    if isinstance(exc, InvalidIdentifierError):
        return "invalid_identifier"
    if isinstance(exc, ForeignBlockError):
        return "foreign_block"
    if isinstance(exc, NotBlockedError):
        return "not_blocked"
    return "rejected"


def add_reports_bulk(
    session: Session,
    *,
    country: str,
    items: Iterable[ReportInput],
    now: int | None = None,
) -> list[ItemResult]:
    """Apply many reports with per-item results, in item order; bad items change nothing.

    Every kind is accepted: RECOVERED and WITHDRAWN follow the rules of :func:`recover` and
    :func:`withdraw`. Items are applied in order, so a later item sees the effect of an earlier one for
    the same IMEI. Existing entries are loaded with one query per 10,000 distinct IMEIs and the writes are
    three executemany statements.
    """
    check_country(country)
    t = _now(now)
    listed = list(items)
    results: list[ItemResult | None] = [None] * len(listed)
    prepared: list[tuple[int, str, Kind, int | None, str]] = []
    for index, item in enumerate(listed):
        try:
            core = _parse_imei(item.imei)
            kind = coerce_kind(item.kind)
            at = None if item.reported_at is None else check_reported_at(item.reported_at, t)
            case_ref = "" if kind in CLEARING_KINDS else _check_case_ref(item.case_ref)
        except (InvalidIdentifierError, ReportRejectedError) as exc:
            results[index] = ItemResult(index, str(item.imei), error=str(exc), code=_error_code(exc))
            continue
        prepared.append((index, core, kind, at, case_ref))

    state = load_entries(session, {p[1] for p in prepared}, lock=True)
    changes: list[Change] = []
    not_blocked: list[tuple[int, str, Kind]] = []
    for index, core, kind, at, case_ref in prepared:
        existing = state.get(core)
        try:
            change = plan_change(
                imei=core, kind=kind, reported_at=at, case_ref=case_ref, existing=existing, now=t
            )
        except NotBlockedError as exc:
            results[index] = ItemResult(index, listed[index].imei, error=str(exc), code="not_blocked")
            not_blocked.append((index, core, kind))
            continue
        if change is not None:
            changes.append(change)
            state[core] = (change.kind, change.reported_at, change.salt, change.commitment)
        results[index] = ItemResult(index, listed[index].imei, result=_result(core, kind, existing, change))

    if not_blocked:
        owners = foreign_blockers(session, country=country, imeis={core for _, core, _ in not_blocked})
        for index, core, _kind in not_blocked:
            if core in owners:
                foreign = ForeignBlockError(core, country, owners[core])
                results[index] = ItemResult(
                    index, listed[index].imei, error=str(foreign), code="foreign_block"
                )

    write_changes(session, changes, now=t)
    return [r for r in results if r is not None]
