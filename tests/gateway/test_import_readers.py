"""The register import's CSV reader: blocks split without the csv module must be what it reads."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import ImportFileError
from gateway.services.import_readers import Columns, CsvReader, RawRow, rows_of

HEADER = "imei,kind,reported_at,case_ref"


def _oracle(text: str) -> list[RawRow]:
    """Every row as the csv module reads it, record by record (blank lines skipped)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    names = [h.strip().lower() for h in next(reader)]
    width = len(names)
    i_imei, i_kind, i_at = (names.index(c) for c in ("imei", "kind", "reported_at"))
    i_case = names.index("case_ref") if "case_ref" in names else -1
    rows: list[RawRow] = []
    previous = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            rows.append((previous + 1, "", "", "", "", f"CSV syntax error: {exc}"))
            previous = reader.line_num
            continue
        line, previous = previous + 1, reader.line_num
        if not row:
            continue
        if len(row) > width:
            rows.append((line, "", "", "", "", f"{len(row)} fields but the header has {width}"))
        elif len(row) < width:
            missing = ", ".join(names[i] for i in range(len(row), width))
            rows.append((line, "", "", "", "", "missing column " + missing))
        else:
            case = row[i_case] if i_case >= 0 else ""
            rows.append((line, row[i_imei], row[i_kind], row[i_at], case, None))


def _read(text: str, sizes: list[int]) -> tuple[list[RawRow], int]:
    reader = CsvReader(io.StringIO(text, newline=""))
    rows: list[RawRow] = []
    split = 0
    for n in range(10_000):
        block = reader.take(sizes[n % len(sizes)])
        if not block:
            return rows, split
        split += isinstance(block, Columns)
        rows.extend(rows_of(block))
    raise AssertionError("the reader never ended")


_FIELD = st.text(alphabet='0123456789abST ,"\r\n\x00', max_size=6)
_PLAIN = st.text(alphabet="0123456789abST", min_size=1, max_size=6)
_ROW = st.lists(st.one_of(_PLAIN, _PLAIN, _PLAIN, _FIELD), min_size=2, max_size=5)
# (a line ending in a lone CR is written as it is: its CR ends it)
_RAW_LINE = st.sampled_from(["", "a,b", "a,b,c,d,e", '"open,b,c,d', "x,y,z,w", "a,b\r", "c\r", "a,\rc,d"])


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.one_of(_ROW.map(lambda r: ("row", r)), _RAW_LINE.map(lambda r: ("raw", r))), max_size=40
    ),
    terminator=st.sampled_from(["\n", "\r\n"]),
    final_newline=st.booleans(),
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    header=st.sampled_from([HEADER, "kind,IMEI,extra,reported_at", "reported_at,case_ref,imei,kind"]),
)
def test_blocks_read_what_the_csv_module_reads(rows, terminator, final_newline, sizes, header) -> None:
    out = io.StringIO(newline="")
    out.write(header + terminator)
    writer = csv.writer(out, lineterminator=terminator)
    for kind, value in rows:
        if kind == "row":
            writer.writerow(value)
        else:
            out.write(value if value.endswith("\r") else value + terminator)
    text = out.getvalue()
    if not final_newline:
        text = text.removesuffix(terminator)
    got, _ = _read(text, sizes)
    assert got == _oracle(text)


def test_plain_lines_are_split_as_columns() -> None:
    body = "".join(f"35{n:012d}0,STOLEN,{1000 + n},CASE/{n}\n" for n in range(10))
    got, split = _read(HEADER + "\n" + body, [4])
    assert split == 3  # 4 + 4 + 2 rows: every block needed no csv parsing
    assert got == _oracle(HEADER + "\n" + body)
    assert got[0] == (2, "350000000000000", "STOLEN", "1000", "CASE/0", None)


def test_a_quoted_field_over_two_lines_keeps_the_line_numbers_right() -> None:
    text = HEADER + '\n1,STOLEN,5,a\n2,LOST,6,"two\nlines"\n3,LOST,7,c\n4,LOST,8,d\n'
    got, _ = _read(text, [2])
    assert [row[0] for row in got] == [2, 3, 5, 6]
    assert got == _oracle(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty file"), ("imei,kind\n", "lacks column"), ("imei,kind,reported_at,imei\n", "more than once")],
)
def test_an_unusable_header_is_refused(text: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        CsvReader(io.StringIO(text, newline=""))


@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_a_line_ended_by_a_lone_cr_among_crlf_lines_is_its_own_line(size: int) -> None:
    # "c\r" ends a line of its own (one field: a bad row); merged with the next line it would look
    # like a good row of four fields
    text = HEADER + "\r\n1,STOLEN,5,a\r\nc\r2,LOST,6,b\r\n3,LOST,7,c\r\n"
    got, _ = _read(text, [size])
    assert got == _oracle(text)
    assert [row[0] for row in got] == [2, 3, 4, 5]
    assert got[1][5] == "missing column kind, reported_at, case_ref"


@pytest.mark.parametrize("size", [1, 4])
def test_a_field_longer_than_the_csv_modules_limit_is_its_error(size: int) -> None:
    long_case = "x" * (csv.field_size_limit() + 10)
    text = HEADER + "\n1,STOLEN,5,a\n2,LOST,6," + long_case + "\n3,LOST,7,c\n"
    got, _ = _read(text, [size])
    assert got == _oracle(text)
    assert "field larger than field limit" in str(got[1][5])
