"""Import a national register snapshot (CSV or NDJSON), turning its differences into records.

Formats (chosen from ``fmt`` or the file extension ``.csv`` / ``.ndjson`` / ``.jsonl``), UTF-8:

* CSV: a header row naming the columns ``imei``, ``kind``, ``reported_at`` and optionally ``case_ref``
  (any order, case-insensitive, other columns ignored), then one row per IMEI.
* NDJSON: one JSON object per line with the same keys (``case_ref`` optional, string or null).

``imei`` in any form :func:`ledger_node.identifiers.parse_imei` accepts; ``kind`` a kind name
(case-insensitive); ``reported_at`` Unix seconds, an ISO-8601 date (midnight UTC) or an ISO-8601
datetime with a timezone.

The snapshot is diffed against the national register, read once into memory: a row identical to the
register entry (same kind, same case commitment under the stored salt, same ``reported_at``) does
nothing; anything else becomes a record by the rules of :mod:`gateway.services.reports` (RECOVERED and
WITHDRAWN rows clear our own block, with the same refusals). Changes are written in transactions of
up to ``chunk_rows`` rows, register and outbox together, so a crash never leaves a register change
without its outbox row; importing again after a crash finishes the job (it is a diff). The writes
run on a thread of their own while the next chunk is read and planned
(:mod:`gateway.services.import_writer`, ADR 0006); the formats are read by
:mod:`gateway.services.import_readers`.

Bad rows never stop the import: each is reported with its 1-based physical line number and a reason.
The same IMEI twice with identical data counts once; with conflicting data the later line is a bad row.

``missing`` decides what happens to IMEIs with an active entry in our register that the snapshot does
not mention at all ("keep", the default; "recover"; "withdraw"). An IMEI named by a bad row counts as
mentioned (a 15-digit IMEI with a wrong check digit protects its 14-digit core), and a snapshot without
a single valid row is refused rather than clearing the whole register.
"""

from __future__ import annotations

import gc
import os
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.models import RegisterEntry
from gateway.errors import ForeignBlockError, ImportFileError, NotBlockedError, ReportRejectedError
from gateway.services.import_readers import (
    Block,
    Columns,
    CsvReader,
    NdjsonReader,
    RawRow,
    Reader,
    rows_of,
)
from gateway.services.import_writer import ASCII_DIGITS, ChunkWriter, NewEntries, Rows, Segment
from gateway.services.reports import (
    BLOCKING_KINDS,
    MAX_FUTURE_SECONDS,
    Change,
    EntryState,
    OutboxRow,
    RegisterRow,
    check_country,
    check_reported_at,
    foreign_blockers,
    plan_change,
    write_changes,
)
from ledger_node.errors import InvalidIdentifierError
from ledger_node.hashing import keccak256, keccak256_concat
from ledger_node.identifiers import all_fifteen_digits, check_digits_agree, parse_imei
from ledger_node.record import COMMITMENT_SIZE, IDENTIFIER_CHARS, SALT_SIZE, UINT32_MAX, IdType, Kind

__all__ = [
    "BLOCK_ROWS",
    "CHUNK_ROWS",
    "FORMATS",
    "MISSING_POLICIES",
    "PROGRESS_EVERY",
    "SMALL_CHUNK_ROWS",
    "BadRow",
    "ImportReport",
    "import_register",
    "parse_reported_at",
]

#: Rows per transaction (register + outbox written together).
CHUNK_ROWS = 50_000
#: The smallest chunk: the first chunks grow from this many rows to ``chunk_rows`` and the last ones
#: shrink back to it, so that the writer, a chunk behind the reader, starts early and ends soon after.
SMALL_CHUNK_ROWS = 4096
#: The progress callback is called every this many rows (and once at the start and the end).
PROGRESS_EVERY = 10_000
#: Rows checked together on the fast path (new entries with plain fields); 0 checks row by row.
BLOCK_ROWS = 8192
FORMATS: dict[str, str] = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
MISSING_POLICIES: dict[str, Kind | None] = {
    "keep": None,
    "recover": Kind.RECOVERED,
    "withdraw": Kind.WITHDRAWN,
}

_KINDS: dict[str, int] = {k.name: int(k) for k in Kind}  # plain ints: drivers bind them as-is
_DATE_CACHE_MAX = 100_000
_MAX_TIME_DIGITS = 20  # longer digit strings are out of range (the row loop says so) before int()
#: The record layout of :func:`gateway.services.reports.pack_record`, inlined in the import's hot path.
_RECORD = struct.Struct(">B7sI4s")
_IMEI_TYPE = int(IdType.IMEI) << 4
_BY_IMEI = itemgetter(5)  # of a RegisterRow
_SALT = itemgetter(2)  # of an EntryState
_FIRST, _REST = itemgetter(0), itemgetter(slice(1, None))  # of a register row
_OUTBOX_KIND = itemgetter(2)  # of an OutboxRow
_CORE = itemgetter(slice(0, IDENTIFIER_CHARS))  # of a 15-digit IMEI
_COLUMNS = tuple(map(itemgetter, (0, 1, 2, 4)))  # of a RawRow: line, imei, kind, case_ref
_TIME, _ERROR = itemgetter(3), itemgetter(5)  # of a RawRow
_COMMITMENT_AT = _RECORD.size - COMMITMENT_SIZE  # the commitment ends the record
_SALT_POOL = 4096 * SALT_SIZE  # random bytes drawn at once for new entries' salts
#: ``bytes.translate`` table: an ASCII digit to the digit sum of its double (Luhn's doubled digits).
_DOUBLED = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))
#: The Luhn sum of a valid 15-digit IMEI over its ASCII bytes, mod 10: 8 undoubled digits carry
#: 8 * ord("0") = 384, so the sum is right when it ends in 4.
_LUHN_OK = 8 * ord("0") % 10


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that was not imported: its 1-based physical line number in the file and why."""

    line: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    """What an import did.

    ``rows`` counts data rows read (header and blank lines excluded); ``created`` counts records
    written to the outbox, ``missing`` of them by the ``missing`` policy; ``unchanged`` counts rows that
    matched the register (or repeated an earlier row); ``by_kind`` counts created records per kind name.
    """

    path: str
    format: str
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    missing: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# ----------------------------------------------------------------------------- field parsing

_date_cache: dict[str, int] = {}


def parse_reported_at(value: object) -> int:
    """Unix seconds from an int, a digit string, an ISO-8601 date (UTC) or datetime with timezone.

    Range checks are the caller's (:func:`gateway.services.reports.check_reported_at`).

    Raises:
        ReportRejectedError: the value cannot be read as a time (message names the field).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ReportRejectedError(
            f"reported_at: expected Unix seconds or an ISO-8601 string, got {type(value).__name__}"
        )
    text = value.strip()
    if text.isdigit() and text.isascii():
        if len(text) > _MAX_TIME_DIGITS:  # (and int() refuses more than 4,300 digits)
            raise ReportRejectedError(
                f"reported_at: a {len(text)}-digit number is outside 0 .. {UINT32_MAX} (uint32 Unix seconds)"
            )
        return int(text)
    cached = _date_cache.get(text)
    if cached is not None:
        return cached
    try:
        if "T" not in text and " " not in text and ":" not in text:
            day = date.fromisoformat(text)
            seconds = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise ReportRejectedError(
                    f"reported_at: datetime {value!r} has no timezone (add Z or an offset, or give a date)"
                )
            seconds = int(moment.timestamp() // 1)
    except ValueError:
        raise ReportRejectedError(
            f"reported_at: cannot parse {value!r} (expected Unix seconds, an ISO-8601 date, "
            "or an ISO-8601 datetime with timezone)"
        ) from None
    if len(_date_cache) >= _DATE_CACHE_MAX:
        _date_cache.clear()
    _date_cache[text] = seconds
    return seconds


def _kind(value: object) -> int:
    kind = _KINDS.get(value) if isinstance(value, str) else None
    if kind is None:
        kind = _KINDS.get(value.strip().upper()) if isinstance(value, str) else None
        if kind is None:
            raise ReportRejectedError(f"kind: unknown kind {value!r} (expected one of {', '.join(_KINDS)})")
    return kind


def _case_ref(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReportRejectedError(f"case_ref: expected a string, got {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ReportRejectedError("case_ref: not valid UTF-8 text") from None
    return value


def _all_rows(reader: Reader) -> Iterator[RawRow]:
    while block := reader.take(4096):
        yield from rows_of(block)


def _count_lines(path: Path) -> int:
    count = 0
    last = b"\n"
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


# ----------------------------------------------------------------------------- the import


def _chunk_size(chunk_rows: int, *, done: int, remaining: int) -> int:
    """Rows in the next chunk: ``chunk_rows``, but no more than the rows done so far (the start
    doubles) nor than half of what remains (the end halves), and no fewer than
    :data:`SMALL_CHUNK_ROWS` (unless ``chunk_rows`` is fewer)."""
    size = min(chunk_rows, done, remaining // 2 if remaining <= chunk_rows else chunk_rows)
    return max(size, min(chunk_rows, SMALL_CHUNK_ROWS))


def _load_register(factory: sessionmaker[Session]) -> dict[str, EntryState]:
    """The whole national register as ``imei -> (kind, reported_at, salt, commitment)``."""
    table = cast(Table, RegisterEntry.__table__)
    sql = f"SELECT imei, kind, reported_at, case_salt, case_commitment FROM {table.name}"
    with factory() as session:
        # The driver's own cursor and fetchall: no per-row result object, no per-value type processing.
        # sqlite3 and psycopg return plain tuples, blobs as bytes.
        cursor: Any = session.connection().connection.cursor()
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
            return dict(zip(map(_FIRST, rows), map(_REST, rows), strict=True))
        finally:
            cursor.close()


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees everything).

    The import allocates several objects per row (rows, tuples of the diff, register and outbox
    rows), all acyclic; the collector's passes over them cost ~1 µs per row and find nothing.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _resolve_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        resolved = FORMATS.get("." + fmt.lower().lstrip("."))
        if resolved is None:
            raise ImportFileError(f"unknown format {fmt!r} (expected csv, ndjson or jsonl)")
        return resolved
    resolved = FORMATS.get(path.suffix.lower())
    if resolved is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name} from its extension (.csv, .ndjson, .jsonl); pass a format"
        )
    return resolved


def import_register(
    factory: sessionmaker[Session],
    *,
    country: str,
    path: Path,
    fmt: str | None = None,
    missing: str = "keep",
    progress: Callable[[int, int], None] | None = None,
    now: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    block_rows: int = BLOCK_ROWS,
) -> ImportReport:
    """Import the register snapshot at ``path`` for ``country``; see the module docstring.

    ``progress(rows_done, total)`` is called at the start, every :data:`PROGRESS_EVERY` rows and at
    the end; ``total`` is the number of data lines counted up-front (one fast binary pass; a quoted
    CSV field spanning lines makes it an overestimate) and the final call is ``(rows, rows)``.

    Raises:
        ImportFileError: the file cannot be read at all (missing, unknown format, no usable header),
            ``missing`` is not keep/recover/withdraw, or a snapshot without a valid row would clear
            the register.
    """
    started = time.perf_counter()
    check_country(country)
    if missing not in MISSING_POLICIES:
        raise ImportFileError(f"missing must be one of {', '.join(MISSING_POLICIES)}, got {missing!r}")
    resolved = _resolve_format(path, fmt)
    t = int(time.time()) if now is None else now
    report = ImportReport(path=str(path), format=resolved)
    try:
        total = _count_lines(path) - (resolved == "csv")
        fh = path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc}") from exc

    register = _load_register(factory)
    # Undecodable bytes become lone surrogates: only a case_ref can hold them. Leaving the block waits
    # for the writer to write every chunk.
    with fh, _cyclic_gc_paused(), ChunkWriter(factory, now=t) as writer:
        reader: Reader = CsvReader(fh) if resolved == "csv" else NdjsonReader(fh)
        seen, mentioned = _import_rows(
            factory,
            writer,
            reader,
            country=country,
            register=register,
            now=t,
            chunk_rows=chunk_rows,
            block_rows=block_rows,
            report=report,
            progress=progress,
            total=max(total, 0),
        )

    clearing = MISSING_POLICIES[missing]
    if clearing is not None:
        report.missing = _apply_missing(
            factory, kind=clearing, register=register, seen=seen, mentioned=mentioned, now=t
        )
        report.created += report.missing
        if report.missing:
            report.by_kind[clearing.name] = report.by_kind.get(clearing.name, 0) + report.missing
    report.bad_rows.sort(key=lambda b: b.line)
    report.by_kind = dict(sorted(report.by_kind.items(), key=lambda item: Kind[item[0]]))
    report.seconds = time.perf_counter() - started
    if progress is not None:
        progress(report.rows, report.rows)
    return report


def _import_rows(
    factory: sessionmaker[Session],
    writer: ChunkWriter,
    reader: Reader,
    *,
    country: str,
    register: dict[str, EntryState],
    now: int,
    chunk_rows: int,
    block_rows: int,
    report: ImportReport,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> tuple[dict[str, tuple[int, int, int, str]], set[str]]:
    """Diff the rows against ``register`` and write the changes chunk by chunk.

    Returns the IMEIs of valid rows (with their line and data) and the IMEIs named only by bad rows.
    Rows are taken ``block_rows`` at a time: a block of plain rows is planned whole by
    :func:`_plan_block`; the rows it leaves, and any other block, go through the row loop, the
    general path (with its own inlined fast paths: digit-string times, exact kind names, ASCII case
    references, new and identical entries, falling back to the checked helpers). ``block_rows=0``
    takes every row there.
    """
    seen: dict[str, tuple[int, int, int, str]] = {}
    mentioned: set[str] = set()
    refused: list[tuple[int, str, str]] = []  # (line, imei, reason) of clearing rows we could not apply
    bad = report.bad_rows
    segments: list[Segment] = []  # the chunk being built, in file order
    inserts: list[RegisterRow] = []  # the row loop's rows since the last segment
    outbox: list[OutboxRow] = []
    changes: list[Change] = []  # the row loop's changes (updates, clears), in order with outbox
    counts: Counter[int] = Counter()
    kinds, blocking, limit = _KINDS, BLOCKING_KINDS, min(now + MAX_FUTURE_SECONDS, UINT32_MAX)
    keccak, pack, fromhex, doubled, urandom = keccak256, _RECORD.pack, bytes.fromhex, _DOUBLED, os.urandom
    salts = b""  # fresh salts, drawn from the OS CSPRNG _SALT_POOL bytes at a time
    salt_at = 0
    count = unchanged = 0
    next_flush = _chunk_size(chunk_rows, done=0, remaining=total)
    every = PROGRESS_EVERY
    next_progress = every if progress is not None else -1
    next_event = min(next_flush, next_progress) if progress is not None else next_flush
    if progress is not None:
        progress(0, total)

    def close_rows() -> None:
        """End the row loop's segment (its register rows sorted: the index is filled in order)."""
        if not outbox:
            return
        final = {c.imei: c for c in changes}
        updates = [(c.kind, c.reported_at, c.salt, c.commitment, now, i) for i, c in final.items()]
        segments.append(Rows(sorted(inserts, key=_BY_IMEI), updates, outbox.copy()))
        counts.update(map(_OUTBOX_KIND, outbox))
        report.created += len(outbox)
        inserts.clear()
        outbox.clear()
        changes.clear()

    def flush() -> None:
        close_rows()
        if segments:
            writer.submit(segments.copy())
            segments.clear()

    fast = block_rows > 0
    while True:
        block: Iterable[RawRow] = _all_rows(reader)
        if fast:
            # A block ends before the next flush/progress event, which the row loop below fires as
            # ever (a block of one row when that row is the next one).
            size = min(block_rows, next_event - count - 1)
            taken = reader.take(max(size, 1))
            if not taken:
                break
            planned = _plan_block(taken, seen=seen, register=register, limit=limit) if size > 0 else None
            if planned is None:
                block = rows_of(taken)
            else:
                entries, same, block = planned
                if entries is not None:
                    close_rows()
                    segments.append(entries)
                    counts.update(entries.kind_values())
                    report.created += len(entries)
                unchanged += same
                count += len(taken) - len(block)
                if not block:
                    continue
        for line, raw_imei, raw_kind, raw_at, raw_case, error in block:
            count += 1
            if count == next_event:
                if count == next_flush:
                    flush()
                    next_flush += _chunk_size(chunk_rows, done=count, remaining=total - count)
                if count == next_progress:
                    assert progress is not None  # next_progress stays -1 without a callback
                    progress(count, max(total, count))
                    next_progress += every
                next_event = min(next_flush, next_progress) if progress is not None else next_flush
            if error is not None:
                bad.append(BadRow(line, error))
                continue
            # Fast path: a bare 15-digit IMEI with a right check digit (the Luhn sum of all 15 ASCII digits,
            # as in ledger_node.identifiers); every other form, and every error message, is parse_imei's.
            if (
                len(raw_imei) == 15
                and raw_imei.isdigit()
                and raw_imei.isascii()
                and (
                    sum((ascii_digits := raw_imei.encode())[0::2])
                    + sum(ascii_digits[1::2].translate(doubled))
                )
                % 10
                == _LUHN_OK
            ):
                core = raw_imei[:14]
            else:
                try:
                    core = parse_imei(raw_imei)
                except InvalidIdentifierError as exc:
                    text = raw_imei.strip()
                    if len(text) == 15 and text.isdigit() and text.isascii():
                        mentioned.add(text[:14])  # a mistyped check digit still names its core
                    bad.append(BadRow(line, f"imei: {exc}"))
                    continue
            try:
                kind = kinds.get(raw_kind)
                if kind is None:
                    kind = _kind(raw_kind)
                if (
                    isinstance(raw_at, str)
                    and raw_at.isdigit()
                    and raw_at.isascii()
                    and len(raw_at) <= _MAX_TIME_DIGITS
                ):
                    at = int(raw_at)
                    if at > limit:
                        check_reported_at(at, now)
                else:
                    at = check_reported_at(parse_reported_at(raw_at), now)
                case_ref = raw_case if raw_case.isascii() else _case_ref(raw_case)
            except ReportRejectedError as exc:
                mentioned.add(core)
                bad.append(BadRow(line, str(exc)))
                continue
            earlier = seen.get(core)
            if earlier is not None:
                if earlier[1] == kind and earlier[2] == at and earlier[3] == case_ref:
                    unchanged += 1
                else:
                    bad.append(BadRow(line, f"duplicate IMEI {core} conflicts with line {earlier[0]}"))
                continue
            existing = register.get(core)
            if existing is None:
                if kind in blocking:  # fast path: a new entry (inlines plan_change, new_salt, pack_record)
                    if salt_at == len(salts):
                        salts = urandom(_SALT_POOL)
                        salt_at = 0
                    salt = salts[salt_at : salt_at + SALT_SIZE]
                    salt_at += SALT_SIZE
                    commitment = keccak(salt + case_ref.encode())[:COMMITMENT_SIZE]
                    record = bytearray(pack(_IMEI_TYPE | kind, fromhex(core), at, commitment))
                    # bytearray blobs: Python's sqlite3 binds them directly (bytes go through its
                    # adapter lookup)
                    inserts.append((kind, at, bytearray(salt), record[-COMMITMENT_SIZE:], now, core))
                    outbox.append((record, core, kind, now))
                    seen[core] = (line, kind, at, case_ref)
                    continue
            elif (  # fast path: an identical active entry
                existing[0] == kind
                and existing[1] == at
                and kind in blocking
                and keccak(existing[2] + case_ref.encode())[:COMMITMENT_SIZE] == existing[3]
            ):
                unchanged += 1
                seen[core] = (line, kind, at, case_ref)
                continue
            try:
                change = plan_change(
                    imei=core, kind=Kind(kind), reported_at=at, case_ref=case_ref, existing=existing, now=now
                )
            except NotBlockedError as exc:
                mentioned.add(core)
                refused.append((line, core, str(exc)))
                continue
            if change is None:
                unchanged += 1
            else:  # ``existing`` is set here: a new IMEI with a clearing kind raised above
                changes.append(change)
                outbox.append((change.record, core, change.kind, now))
            # Each IMEI is planned once (later rows hit ``seen``), so ``register`` needs no update.
            seen[core] = (line, kind, at, case_ref)
        if not fast:
            break
    flush()

    report.rows = count
    report.unchanged = unchanged
    report.by_kind = {Kind(k).name: n for k, n in counts.items()}
    if refused:
        _explain_refusals(factory, country=country, refused=refused, bad=bad)
    return seen, mentioned


def _plan_block(
    block: Block,
    *,
    seen: dict[str, tuple[int, int, int, str]],
    register: dict[str, EntryState],
    limit: int,
) -> tuple[NewEntries | None, int, list[RawRow]] | None:
    """Plan a block of plain rows whole: ``(new entries, rows unchanged, rows left to the row loop)``,
    or None when the whole block is the row loop's.

    Plain: no reader error, every IMEI exactly 15 ASCII digits with a right check digit, named once
    in the block and not in ``seen``, every kind an exact blocking kind name, every time ASCII digits
    (or, in NDJSON, integers from 0) at most ``limit``, every case reference ASCII.
    Of plain rows, those identical to their register entry (same kind, time and case commitment
    under the stored salt) are unchanged; the others are new entries, unless one of them changes a
    registered entry: then they all go, in order, to the row loop (the outbox keeps the file's order).
    New entries get what the row loop gives them (fresh salts from the OS CSPRNG), and ``seen`` is
    updated for the rows planned here as the row loop would. Every check is a C-level operation
    over a whole column.
    """
    count = len(block)
    if isinstance(block, Columns):
        lines, imeis, kind_names, case_refs = block.lines, block.imeis, block.kinds, block.case_refs
        times: list[str] | list[str | int] = block.times
    else:
        if list(map(_ERROR, block)).count(None) != count:
            return None
        lines, imeis, kind_names, case_refs = (list(map(column, block)) for column in _COLUMNS)
        times = list(map(_TIME, block))
    joined = all_fifteen_digits(imeis)
    if joined is None or not all(check_digits_agree(joined.encode("ascii"), count)):
        return None
    kinds: list[int] = list(map(_KINDS.get, kind_names))  # type: ignore[arg-type]
    if not BLOCKING_KINDS.issuperset(kinds) or not "".join(case_refs).isascii():
        return None  # (an unknown kind name is None, not a blocking kind)
    types = set(map(type, times))
    if types == {str}:  # CSV, NDJSON strings: digit strings only (ISO dates are the row loop's)
        texts = cast("list[str]", times)
        digits = "".join(texts)
        if "" in texts or not (digits.isascii() and digits.isdigit()):
            return None
        if max(map(len, texts)) > _MAX_TIME_DIGITS:
            return None
        at = list(map(int, times))
    elif types == {int}:  # NDJSON integers (booleans are of their own type)
        at = cast("list[int]", times)
        if min(at) < 0:
            return None
    else:
        return None
    if max(at) > limit:
        return None
    cores = list(map(_CORE, imeis))
    fresh = set(cores)
    if len(fresh) != count or not seen.keys().isdisjoint(fresh):
        return None
    same = 0
    if not register.keys().isdisjoint(fresh):
        entries = list(map(register.get, cores))
        registered = [entry is not None for entry in entries]
        known = cast("list[EntryState]", list(compress(entries, registered)))
        # Identical: same kind, time and commitment; kinds here all block, so the entry is active.
        digests = keccak256_concat(
            map(bytes.__add__, map(_SALT, known), map(str.encode, compress(case_refs, registered)))
        )
        matches = [
            entry[0] == kind and entry[1] == time_ and digests[at32 : at32 + COMMITMENT_SIZE] == entry[3]
            for entry, kind, time_, at32 in zip(
                known,
                compress(kinds, registered),
                compress(at, registered),
                range(0, len(digests), 32),
                strict=True,
            )
        ]
        if len(known) == count:
            identical = matches
        else:
            found = iter(matches)
            identical = [is_known and next(found) for is_known in registered]
        same = identical.count(True)
        rows = zip(cores, zip(lines, kinds, at, case_refs, strict=True), strict=True)
        if same == count:
            seen.update(rows)
            return None, same, []
        seen.update(compress(rows, identical))
        keep = [not skip for skip in identical]
        if any(entry is not None for entry in compress(entries, keep)):
            return None, same, list(compress(rows_of(block), keep))
        lines, kinds, at, case_refs, cores = (
            list(compress(column, keep)) for column in (lines, kinds, at, case_refs, cores)
        )
    seen.update(zip(cores, zip(lines, kinds, at, case_refs, strict=True), strict=True))
    return _new_entry_columns(cores, kinds, at, case_refs), same, []


def _new_entry_columns(cores: list[str], kinds: list[int], at: list[int], case_refs: list[str]) -> NewEntries:
    """New entries with fresh salts (OS CSPRNG), their commitments and packed records."""
    count = len(cores)
    pool = os.urandom(SALT_SIZE * count)
    salts = struct.unpack(f"{SALT_SIZE}s" * count, pool)  # each salt a bytes object, in one C call
    digests = keccak256_concat(map(bytes.__add__, salts, map(str.encode, case_refs)))
    # The records laid out in one buffer, field by field, in _RECORD's layout (type and kind at 0,
    # identifier at 1-7, reported_at at 8-11, commitment at 12-15): each byte of a field is one
    # strided assignment for the whole block.
    joined = "".join(cores)
    size = _RECORD.size
    packed = bytearray(size * count)
    packed[0::size] = bytes(map(_IMEI_TYPE.__or__, kinds))
    for column, source in (
        (1, bytes.fromhex(joined)),  # the 7-byte BCD identifier
        (8, struct.pack(f">{count}I", *at)),  # reported_at, uint32 big-endian
    ):
        width = len(source) // count
        for offset in range(width):
            packed[column + offset :: size] = source[offset::width]
    for offset in range(COMMITMENT_SIZE):  # the commitment: the first bytes of each 32-byte digest
        packed[_COMMITMENT_AT + offset :: size] = digests[offset::32]
    return NewEntries(
        imeis=joined.encode("ascii"),
        kinds=bytes(kinds).translate(ASCII_DIGITS),
        times=at,
        salts=pool,
        records=bytes(packed),
    )


def _explain_refusals(
    factory: sessionmaker[Session], *, country: str, refused: list[tuple[int, str, str]], bad: list[BadRow]
) -> None:
    """Bad rows for refused clearing rows, naming the blocking countries where there are any."""
    with factory() as session:
        owners = foreign_blockers(session, country=country, imeis={imei for _, imei, _ in refused})
    for line, imei, reason in refused:
        if imei in owners:
            reason = str(ForeignBlockError(imei, country, owners[imei]))
        bad.append(BadRow(line, reason))


def _apply_missing(
    factory: sessionmaker[Session],
    *,
    kind: Kind,
    register: dict[str, EntryState],
    seen: dict[str, tuple[int, int, int, str]],
    mentioned: set[str],
    now: int,
) -> int:
    """Clear our active entries the snapshot does not mention; returns how many records it wrote."""
    targets = sorted(
        imei
        for imei, entry in register.items()
        if entry[0] in BLOCKING_KINDS and imei not in seen and imei not in mentioned
    )
    if not targets:
        return 0
    if not seen:
        raise ImportFileError(
            f"the snapshot has no valid row; refusing to {kind.name.lower()} all {len(targets)} "
            "active entries of the register"
        )
    written = 0
    for start in range(0, len(targets), CHUNK_ROWS):
        changes: list[Change] = []
        for imei in targets[start : start + CHUNK_ROWS]:
            change = plan_change(
                imei=imei, kind=kind, reported_at=None, case_ref="", existing=register[imei], now=now
            )
            if change is not None:
                changes.append(change)
                register[imei] = (change.kind, change.reported_at, change.salt, change.commitment)
        with factory.begin() as session:
            write_changes(session, changes, now=now)
        written += len(changes)
    return written
