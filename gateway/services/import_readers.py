"""The register import's format readers: a snapshot file as blocks of rows.

Both readers hand out rows ``take(n)`` at a time, as :class:`Columns` (rows read without a question,
column by column, which the import plans whole) or as a list of :data:`RawRow` (one tuple per row,
possibly with the reader's error for it, for the import's row loop). Line numbers are 1-based
physical lines of the file.

The CSV reader splits a block of lines with ``str.split`` when none of them needs the CSV module
(no quote, no NUL, no carriage return but in CRLF line ends, no line as long as the csv module's
field size limit, every line ending in a newline and holding the header's number of fields): for
such lines the ``excel`` dialect's answer is exactly the split. Any other block is read record by
record by :func:`csv.reader`, from the same lines.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice, repeat
from typing import IO, Protocol

from gateway.errors import ImportFileError

__all__ = ["REQUIRED_COLUMNS", "Block", "Columns", "CsvReader", "NdjsonReader", "RawRow", "Reader", "rows_of"]

REQUIRED_COLUMNS = ("imei", "kind", "reported_at")

#: ``(line, imei, kind, reported_at, case_ref, error)``; when ``error`` is set the other fields are
#: placeholders.
RawRow = tuple[int, str, str, str | int, str, str | None]

_READ_HINT = 1 << 20  # characters of whole lines read at once


@dataclass(frozen=True, slots=True)
class Columns:
    """Rows read without a reader error, column by column (CSV: every field a string)."""

    lines: list[int]
    imeis: list[str]
    kinds: list[str]
    times: list[str]
    case_refs: list[str]

    def __len__(self) -> int:
        return len(self.lines)

    def rows(self) -> list[RawRow]:
        """The same rows as tuples."""
        return list(zip(self.lines, self.imeis, self.kinds, self.times, self.case_refs, repeat(None)))


Block = Columns | list[RawRow]


def rows_of(block: Block) -> list[RawRow]:
    """The rows of ``block`` as tuples."""
    return block.rows() if isinstance(block, Columns) else block


class Reader(Protocol):
    """What the import reads a snapshot through."""

    def take(self, count: int) -> Block:
        """The next ``count`` rows (fewer at the end of the file; none after it)."""
        ...


class CsvReader:
    """A CSV snapshot: a header row naming ``imei``, ``kind``, ``reported_at`` and optionally
    ``case_ref`` (any order, case-insensitive, other columns ignored), then one row per IMEI.

    Raises:
        ImportFileError: (when created) the file is empty or its header is unusable.
    """

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self._pending: list[str] = []  # lines read from the file and not yet taken
        self._at = 0  # the next of them
        self._consumed = 0  # physical lines taken so far
        self._records = csv.reader(self._physical_lines())
        try:
            header = next(self._records)
        except StopIteration:
            raise ImportFileError(
                "empty file: expected a CSV header row (imei,kind,reported_at,case_ref)"
            ) from None
        except csv.Error as exc:
            raise ImportFileError(f"cannot read the CSV header: {exc}") from None
        names = [h.strip().lower() for h in header]
        absent = [c for c in REQUIRED_COLUMNS if c not in names]
        if absent:
            raise ImportFileError(
                f"CSV header lacks column(s) {', '.join(absent)} "
                f"(expected imei,kind,reported_at[,case_ref]); got {','.join(header)}"
            )
        doubled = sorted({n for n in names if names.count(n) > 1 and n in (*REQUIRED_COLUMNS, "case_ref")})
        if doubled:
            raise ImportFileError(f"CSV header names column(s) {', '.join(doubled)} more than once")
        self._names = names
        self._imei, self._kind, self._at_column = (names.index(c) for c in REQUIRED_COLUMNS)
        self._case = names.index("case_ref") if "case_ref" in names else -1
        self._width = len(names)

    def _physical_lines(self) -> Iterator[str]:
        while True:
            if self._at == len(self._pending) and not self._read_more():
                return
            line = self._pending[self._at]
            self._at += 1
            self._consumed += 1
            yield line

    def _read_more(self) -> bool:
        """Read more lines; False at the end of the file."""
        more = self._fh.readlines(_READ_HINT)
        self._pending = self._pending[self._at :] + more
        self._at = 0
        return bool(more)

    def take(self, count: int) -> Block:
        """The next ``count`` rows (blank lines do not count): as :class:`Columns` when the next
        ``count`` lines need no CSV parsing, else record by record."""
        while len(self._pending) - self._at < count and self._read_more():
            pass
        lines = self._pending[self._at : self._at + count]
        text = "".join(lines)
        # Every line ends in the same newline: LF, or CRLF with no other CR (one per line).
        newline = "\n" if "\r" not in text else "\r\n" if text.count("\r") == len(lines) else ""
        # (fewer lines than asked for only at the end of the file)
        if (
            lines
            and newline
            and text.endswith(newline)
            and '"' not in text
            and "\x00" not in text
            and max(map(len, lines)) < csv.field_size_limit()  # (the csv module refuses longer fields)
        ):
            split = text.split(newline)
            split.pop()  # after the last newline
            width = self._width
            if len(split) == len(lines) and set(map(str.count, split, repeat(","))) == {width - 1}:
                n = len(lines)
                # row by row, ``width`` fields each
                fields = text[: -len(newline)].replace(newline, ",").split(",")
                first = self._consumed + 1
                self._at += n
                self._consumed += n
                return Columns(
                    lines=list(range(first, first + n)),
                    imeis=fields[self._imei :: width],
                    kinds=fields[self._kind :: width],
                    times=fields[self._at_column :: width],
                    case_refs=fields[self._case :: width] if self._case >= 0 else [""] * n,
                )
        return list(islice(self._records_read(), count))

    def _records_read(self) -> Iterator[RawRow]:
        """Records through the csv module, each as a row (with its error, if any)."""
        width, names = self._width, self._names
        while True:
            line = self._consumed + 1
            try:
                row = next(self._records)
            except StopIteration:
                return
            except csv.Error as exc:
                yield line, "", "", "", "", f"CSV syntax error: {exc}"
                continue
            if not row:
                continue  # blank line
            if len(row) != width:
                if len(row) > width:
                    error = f"{len(row)} fields but the header has {width}"
                else:
                    error = "missing column " + ", ".join(names[i] for i in range(len(row), width))
                yield line, "", "", "", "", error
                continue
            case_ref = row[self._case] if self._case >= 0 else ""
            yield line, row[self._imei], row[self._kind], row[self._at_column], case_ref, None


class NdjsonReader:
    """An NDJSON snapshot: one JSON object per line with the keys of the CSV header
    (``case_ref`` optional, string or null); blank lines are skipped."""

    def __init__(self, fh: IO[str]) -> None:
        self._rows = self._read(fh)

    def take(self, count: int) -> Block:
        """The next ``count`` rows, record by record."""
        return list(islice(self._rows, count))

    @staticmethod
    def _read(fh: IO[str]) -> Iterator[RawRow]:
        loads = json.loads
        for line, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                obj = loads(text)
            except ValueError as exc:  # json.JSONDecodeError
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                col = f" (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
                yield line, "", "", "", "", f"invalid JSON: {msg}{col}"
                continue
            if not isinstance(obj, dict):
                yield line, "", "", "", "", f"expected a JSON object, got {type(obj).__name__}"
                continue
            absent = [key for key in REQUIRED_COLUMNS if obj.get(key) is None]
            if absent:
                yield line, "", "", "", "", "missing " + ", ".join(absent)
                continue
            imei, kind, at, case_ref = obj["imei"], obj["kind"], obj["reported_at"], obj.get("case_ref")
            if not isinstance(imei, str):
                error = "imei: must be a JSON string (a number loses leading zeros)"
            elif not isinstance(kind, str):
                error = f"kind: expected a kind name, got {kind!r}"
            elif isinstance(at, bool) or not isinstance(at, int | str):
                error = f"reported_at: expected integer Unix seconds or an ISO-8601 string, got {at!r}"
            elif case_ref is not None and not isinstance(case_ref, str):
                error = f"case_ref: expected a string, got {type(case_ref).__name__}"
            else:
                yield line, imei, kind, at, case_ref or "", None
                continue
            yield line, "", "", "", "", error
