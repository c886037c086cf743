"""Register snapshot import (gateway.services.importer), CSV and NDJSON, on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DatabaseError

from gateway.errors import ImportFileError
from gateway.services import importer
from gateway.services.importer import BadRow, import_register, parse_reported_at
from gateway.services.reports import add_report, in_transaction
from ledger_node.identifiers import imei15
from ledger_node.record import Kind, Record, case_commitment

COUNTRY = "IN"
NOW = 1_750_000_000
DAY = 1_714_521_600  # 2024-05-01T00:00:00Z


def run(db, path: Path, **kwargs) -> importer.ImportReport:
    kwargs.setdefault("country", COUNTRY)
    kwargs.setdefault("now", NOW)
    return import_register(db.factory, path=path, **kwargs)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def core(imei: str) -> str:
    return imei[:14]


# ----------------------------------------------------------------------------- CSV


def test_csv_good_and_bad_rows(db, tmp_path, imei_of):
    a, b, c, d, e, f, g = (imei_of(n) for n in range(1, 8))
    bad_luhn = a[:14] + str((int(a[14]) + 1) % 10)
    lines = [
        "imei,kind,reported_at,case_ref",  # 1
        f"{a},STOLEN,{DAY},FIR-1",  # 2 good
        f"{bad_luhn},STOLEN,{DAY},x",  # 3 bad check digit
        f"{b},FOUND,{DAY},x",  # 4 unknown kind
        f"{c},LOST,2024-13-45,x",  # 5 bad date
        f"{d},lost,2024-05-01,",  # 6 good (lower-case kind, date-only)
        "",  # 7 blank line: skipped
        f'{e},DUPLICATED,2024-05-01T02:00:00+02:00,"multi',  # 8 good, case_ref spans two lines
        'line case"',  # 9
        f"{f},STOLEN",  # 10 missing columns
        f"{g},INVALID,{NOW + 2 * 86_400},x",  # 11 too far in the future
        f"{a},STOLEN,{DAY},FIR-1",  # 12 identical duplicate of line 2: fine
        f"{a},LOST,{DAY},FIR-1",  # 13 conflicting duplicate
        f"{g},STOLEN,2024-05-01T10:00:00,x",  # 14 datetime without timezone
        f"{g},STOLEN,{DAY},x,extra",  # 15 too many fields
        f"imei-{g},STOLEN,{DAY},x",  # 16 good (PEI form)
    ]
    path = write(tmp_path / "register.csv", "\r\n".join(lines) + "\r\n")

    result = run(db, path)

    assert [b.line for b in result.bad_rows] == [3, 4, 5, 10, 11, 13, 14, 15]
    reasons = {b.line: b.reason for b in result.bad_rows}
    assert reasons[3].startswith("imei: ")
    assert "check digit" in reasons[3]
    assert reasons[4].startswith("kind: unknown kind 'FOUND'")
    assert reasons[5].startswith("reported_at: cannot parse '2024-13-45'")
    assert reasons[10] == "missing column reported_at, case_ref"
    assert "future" in reasons[11]
    assert reasons[13] == f"duplicate IMEI {core(a)} conflicts with line 2"
    assert "timezone" in reasons[14]
    assert reasons[15] == "5 fields but the header has 4"
    assert (result.rows, result.created, result.unchanged) == (13, 4, 1)
    assert result.by_kind == {"STOLEN": 2, "LOST": 1, "DUPLICATED": 1}
    assert result.format == "csv"

    register = db.register()
    assert set(register) == {core(a), core(d), core(e), core(g)}
    entry = register[core(e)]
    assert (entry.kind, entry.reported_at) == (Kind.DUPLICATED, DAY)
    assert entry.case_commitment == case_commitment(entry.case_salt, "multi\r\nline case")
    assert register[core(d)].case_commitment == case_commitment(register[core(d)].case_salt, "")
    assert [r.imei for r in db.outbox()] == [core(a), core(d), core(e), core(g)]
    for row in db.outbox():
        entry = register[row.imei]
        assert (
            row.record == Record(row.imei, Kind(entry.kind), entry.reported_at, entry.case_commitment).pack()
        )


def test_second_import_of_the_same_file_changes_nothing(db, tmp_path, many_imeis):
    imeis = many_imeis(300)
    kinds = ["STOLEN", "LOST", "DUPLICATED", "INVALID"]
    rows = [f"{i},{kinds[n % 4]},{DAY + n},case-{n}" for n, i in enumerate(imeis)]
    path = write(tmp_path / "r.csv", "imei,kind,reported_at,case_ref\n" + "\n".join(rows) + "\n")

    first = run(db, path)
    register_before = {
        k: (e.kind, e.reported_at, e.case_salt, e.case_commitment) for k, e in db.register().items()
    }
    second = run(db, path, now=NOW + 3600)

    assert (first.rows, first.created, first.unchanged, first.bad_rows) == (300, 300, 0, [])
    assert (second.rows, second.created, second.unchanged, second.bad_rows) == (300, 0, 300, [])
    assert second.by_kind == {}
    assert len(db.outbox()) == 300
    register_after = {
        k: (e.kind, e.reported_at, e.case_salt, e.case_commitment) for k, e in db.register().items()
    }
    assert register_after == register_before
    assert [r.imei for r in db.outbox()] == [core(i) for i in imeis]


def test_changes_between_snapshots_become_one_record_each_in_file_order(db, tmp_path, imei_of):
    a, b, c, d, e = (imei_of(n) for n in range(1, 6))
    header = "imei,kind,reported_at,case_ref\n"
    old = [f"{a},LOST,{DAY},A", f"{b},STOLEN,{DAY},B", f"{c},STOLEN,{DAY},C", f"{d},STOLEN,{DAY},D"]
    new = [
        f"{e},INVALID,{DAY},E",  # new IMEI
        f"{d},STOLEN,{DAY},D",  # unchanged
        f"{c},STOLEN,{DAY + 60},C",  # changed reported_at
        f"{b},STOLEN,{DAY},B2",  # changed case reference
        f"{a},STOLEN,{DAY},A",  # changed kind
    ]
    run(db, write(tmp_path / "old.csv", header + "\n".join(old)))
    salt_b = db.register()[core(b)].case_salt

    result = run(db, write(tmp_path / "new.csv", header + "\n".join(new)))

    assert (result.created, result.unchanged, result.bad_rows) == (4, 1, [])
    assert [(r.imei, r.kind) for r in db.outbox()[4:]] == [
        (core(e), Kind.INVALID),
        (core(c), Kind.STOLEN),
        (core(b), Kind.STOLEN),
        (core(a), Kind.STOLEN),
    ]
    register = db.register()
    assert register[core(a)].kind == Kind.STOLEN
    assert register[core(c)].reported_at == DAY + 60
    assert register[core(b)].case_salt == salt_b
    assert register[core(b)].case_commitment == case_commitment(salt_b, "B2")


def test_recovered_rows_follow_the_recovery_rules(db, tmp_path, imei_of):
    ours, foreign, nobody = imei_of(1), imei_of(2), imei_of(3)
    in_transaction(db.factory, add_report, country=COUNTRY, imei=ours, kind="STOLEN", now=NOW)
    db.add_country_entry(core(foreign), "KE", Kind.STOLEN)
    path = write(
        tmp_path / "r.csv",
        "imei,kind,reported_at,case_ref\n"
        f"{ours},RECOVERED,{DAY},\n"
        f"{foreign},RECOVERED,{DAY},\n"
        f"{nobody},recovered,{DAY},\n",
    )

    result = run(db, path)

    assert result.created == 1
    assert result.by_kind == {"RECOVERED": 1}
    assert [b.line for b in result.bad_rows] == [3, 4]
    assert "blocked by KE" in result.bad_rows[0].reason
    assert "no active entry" in result.bad_rows[1].reason
    assert db.register()[core(ours)].kind == Kind.RECOVERED
    assert core(foreign) not in db.register()
    assert [r.kind for r in db.outbox()] == [Kind.STOLEN, Kind.RECOVERED]
    assert run(db, path).created == 0  # the recovery is in the register now


def test_iso_times():
    assert parse_reported_at("2024-05-01") == DAY
    assert parse_reported_at(" 2024-05-01 ") == DAY
    assert parse_reported_at("2024-05-01T00:00:00Z") == DAY
    assert parse_reported_at("2024-05-01T03:00:00+03:00") == DAY
    assert parse_reported_at("2024-05-01T00:00:00.999Z") == DAY
    assert parse_reported_at("2024-05-01 00:00:01+00:00") == DAY + 1
    assert parse_reported_at(str(DAY)) == DAY
    assert parse_reported_at(DAY) == DAY


# ----------------------------------------------------------------------------- NDJSON


def test_ndjson_good_and_bad_lines(db, tmp_path, imei_of):
    a, b, c, d = (imei_of(n) for n in range(1, 5))
    lines = [
        json.dumps({"imei": a, "kind": "STOLEN", "reported_at": DAY, "case_ref": "K-1"}),  # 1
        '{"imei": "' + b + '", "kind": "LOST", ',  # 2 JSON syntax error
        json.dumps({"imei": c, "kind": "LOST", "reported_at": "2024-05-01"}),  # 3 good, no case_ref
        "",  # 4 blank
        json.dumps([c, "LOST"]),  # 5 not an object
        json.dumps({"imei": int(d), "kind": "LOST", "reported_at": DAY}),  # 6 number IMEI
        json.dumps({"imei": d, "kind": "LOST"}),  # 7 missing reported_at
        json.dumps({"imei": d, "kind": "LOST", "reported_at": 1.5}),  # 8 float time
        json.dumps(
            {"imei": d[:14] + "0" if d[14] != "0" else d[:14] + "1", "kind": "LOST", "reported_at": DAY}
        ),
        json.dumps({"imei": d, "kind": "LOST", "reported_at": DAY, "case_ref": None, "extra": 1}),  # 10 good
        json.dumps({"imei": b, "kind": "STOLEN", "reported_at": DAY, "case_ref": 7}),  # 11 case_ref not text
    ]
    path = write(tmp_path / "snapshot.ndjson", "\n".join(lines))

    result = run(db, path)

    assert [bad.line for bad in result.bad_rows] == [2, 5, 6, 7, 8, 9, 11]
    reasons = {bad.line: bad.reason for bad in result.bad_rows}
    assert reasons[2].startswith("invalid JSON: ")
    assert "column" in reasons[2]
    assert reasons[5] == "expected a JSON object, got list"
    assert reasons[6].startswith("imei: must be a JSON string")
    assert reasons[7] == "missing reported_at"
    assert reasons[8].startswith("reported_at: ")
    assert "check digit" in reasons[9]
    assert reasons[11].startswith("case_ref: ")
    assert (result.rows, result.created, result.format) == (10, 3, "ndjson")
    assert [r.imei for r in db.outbox()] == [core(a), core(c), core(d)]
    assert db.register()[core(c)].reported_at == DAY

    again = run(db, path)
    assert (again.created, again.unchanged, len(again.bad_rows)) == (0, 3, 7)


def test_jsonl_extension_and_explicit_format(db, tmp_path, imei_of):
    record = json.dumps({"imei": imei_of(1), "kind": "STOLEN", "reported_at": DAY}) + "\n"
    assert run(db, write(tmp_path / "a.jsonl", record)).format == "ndjson"
    assert run(db, write(tmp_path / "a.txt", record), fmt="ndjson").unchanged == 1
    assert run(db, write(tmp_path / "b.data", "imei,kind,reported_at\n"), fmt="CSV").rows == 0


def test_undecodable_bytes_are_a_bad_row(db, tmp_path, imei_of):
    path = tmp_path / "r.csv"
    path.write_bytes(
        b"imei,kind,reported_at,case_ref\n"
        + f"{imei_of(1)},STOLEN,{DAY},".encode()
        + b"caf\xe9\n"
        + f"{imei_of(2)},STOLEN,{DAY},caf\u00e9\n".encode()
    )
    result = run(db, path)
    assert result.bad_rows == [BadRow(2, "case_ref: not valid UTF-8 text")]
    assert result.created == 1
    entry = db.register()[core(imei_of(2))]
    assert entry.case_commitment == case_commitment(entry.case_salt, "caf\u00e9")


# ----------------------------------------------------------------------------- missing


def _seed(db, imeis: list[str]) -> None:
    for i in imeis:
        in_transaction(
            db.factory, add_report, country=COUNTRY, imei=i, kind="STOLEN", reported_at=DAY, now=NOW
        )


def test_missing_keep_recover_withdraw(db, tmp_path, imei_of):
    a, b, c, d = (imei_of(n) for n in range(1, 5))
    _seed(db, [a, b, c, d])
    in_transaction(db.factory, add_report, country=COUNTRY, imei=d, kind="LOST", reported_at=DAY, now=NOW)
    path = write(tmp_path / "r.csv", f"imei,kind,reported_at,case_ref\n{a},STOLEN,{DAY},\n")

    kept = run(db, path)
    assert (kept.created, kept.missing) == (0, 0)

    recovered = run(db, path, missing="recover", now=NOW + 10)
    assert (recovered.created, recovered.missing, recovered.unchanged) == (3, 3, 1)
    assert recovered.by_kind == {"RECOVERED": 3}
    register = db.register()
    assert {k: e.kind for k, e in register.items()} == {
        core(a): Kind.STOLEN,
        core(b): Kind.RECOVERED,
        core(c): Kind.RECOVERED,
        core(d): Kind.RECOVERED,
    }
    assert register[core(b)].reported_at == NOW + 10
    assert [(r.imei, r.kind) for r in db.outbox()[-3:]] == [
        (core(b), Kind.RECOVERED),
        (core(c), Kind.RECOVERED),
        (core(d), Kind.RECOVERED),
    ]
    assert run(db, path, missing="recover").created == 0  # recovered entries are not active any more


def test_missing_withdraw(db, tmp_path, imei_of):
    a, b = imei_of(1), imei_of(2)
    _seed(db, [a, b])
    path = write(tmp_path / "r.csv", f"imei,kind,reported_at\n{a},STOLEN,{DAY}\n")
    result = run(db, path, missing="withdraw")
    assert (result.created, result.missing, result.by_kind) == (1, 1, {"WITHDRAWN": 1})
    assert db.register()[core(b)].kind == Kind.WITHDRAWN


def test_imeis_named_by_bad_rows_are_not_missing(db, tmp_path, imei_of):
    a, b, c = imei_of(1), imei_of(2), imei_of(3)
    _seed(db, [a, b, c])
    wrong_digit = b[:14] + str((int(b[14]) + 1) % 10)
    path = write(
        tmp_path / "r.csv",
        f"imei,kind,reported_at\n{a},STOLEN,{DAY}\n{wrong_digit},STOLEN,{DAY}\n{c},STOLEN,not-a-date\n",
    )
    result = run(db, path, missing="recover")
    assert [bad.line for bad in result.bad_rows] == [3, 4]
    assert result.missing == 0
    assert all(e.kind == Kind.STOLEN for e in db.register().values())


def test_a_snapshot_without_valid_rows_does_not_clear_the_register(db, tmp_path, imei_of):
    _seed(db, [imei_of(1)])
    for text in ("imei,kind,reported_at\n", "imei,kind,reported_at\n123,STOLEN,1\n"):
        with pytest.raises(ImportFileError, match="no valid row"):
            run(db, write(tmp_path / "empty.csv", text), missing="recover")
    assert db.register()[core(imei_of(1))].kind == Kind.STOLEN
    assert len(db.outbox()) == 1


# ----------------------------------------------------------------------------- files, chunks, progress


@pytest.mark.parametrize(
    ("name", "text", "fmt", "message"),
    [
        ("r.xlsx", "imei\n", None, "extension"),
        ("r.csv", "imei\n", "xml", "unknown format"),
        ("r.csv", "", None, "empty file"),
        ("r.csv", "imei,kind,case_ref\n", None, "reported_at"),
        ("r.csv", "imei,kind,reported_at,kind\n", None, "more than once"),
    ],
)
def test_unreadable_files(db, tmp_path, name, text, fmt, message):
    with pytest.raises(ImportFileError, match=message):
        run(db, write(tmp_path / name, text), fmt=fmt)


def test_missing_file_and_bad_policy(db, tmp_path):
    with pytest.raises(ImportFileError, match="cannot read"):
        run(db, tmp_path / "nope.csv")
    with pytest.raises(ImportFileError, match="missing must be"):
        run(db, write(tmp_path / "r.csv", "imei,kind,reported_at\n"), missing="delete")


def test_header_is_case_insensitive_in_any_order_with_extra_columns(db, tmp_path, imei_of):
    path = write(tmp_path / "r.csv", f" Reported_At ,note,KIND,IMEI\n{DAY},hello,STOLEN,{imei_of(1)}\n")
    result = run(db, path)
    assert (result.created, result.bad_rows) == (1, [])
    assert db.register()[core(imei_of(1))].reported_at == DAY


def test_small_chunks_give_the_same_result(db, tmp_path, many_imeis):
    imeis = many_imeis(25)
    rows = [f"{i},STOLEN,{DAY},c{n}" for n, i in enumerate(imeis)]
    rows.insert(7, "bad,STOLEN,1,x")
    path = write(tmp_path / "r.csv", "imei,kind,reported_at,case_ref\n" + "\n".join(rows))
    result = run(db, path, chunk_rows=4)
    assert (result.rows, result.created, [b.line for b in result.bad_rows]) == (26, 25, [9])
    assert [r.imei for r in db.outbox()] == [core(i) for i in imeis]
    assert run(db, path, chunk_rows=3).created == 0


def test_a_failing_chunk_leaves_earlier_chunks_whole_and_a_rerun_finishes(db, tmp_path, many_imeis):
    imeis = many_imeis(10)
    path = write(
        tmp_path / "r.csv", "imei,kind,reported_at\n" + "\n".join(f"{i},LOST,{DAY}" for i in imeis) + "\n"
    )
    db.fail_outbox_inserts("disk full", imei=core(imeis[6]))
    with pytest.raises(DatabaseError, match="disk full"):
        run(db, path, chunk_rows=4)  # chunks: rows 1-3, 4-7 (fails), 8-10
    assert sorted(db.register()) == sorted(core(i) for i in imeis[:3])
    assert [r.imei for r in db.outbox()] == [core(i) for i in imeis[:3]]

    db.drop_outbox_trigger()
    result = run(db, path, chunk_rows=4)
    assert (result.created, result.unchanged) == (7, 3)
    assert [r.imei for r in db.outbox()] == [core(i) for i in imeis]


def test_progress_is_reported(db, tmp_path, many_imeis, monkeypatch):
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 4)
    imeis = many_imeis(10)
    path = write(
        tmp_path / "r.csv", "imei,kind,reported_at\n" + "\n".join(f"{i},LOST,{DAY}" for i in imeis) + "\n"
    )
    calls: list[tuple[int, int]] = []
    run(db, path, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 10), (4, 10), (8, 10), (10, 10)]


def test_outbox_records_decode_to_the_register(db, tmp_path, many_imeis):
    imeis = many_imeis(50, seed=5)
    path = write(
        tmp_path / "r.ndjson",
        "\n".join(
            json.dumps({"imei": i, "kind": "INVALID", "reported_at": DAY + n}) for n, i in enumerate(imeis)
        ),
    )
    run(db, path)
    register = db.register()
    for row in db.outbox():
        record = Record.unpack(row.record)
        entry = register[row.imei]
        assert (record.identifier, record.kind, record.reported_at, record.case_commitment) == (
            row.imei,
            Kind.INVALID,
            entry.reported_at,
            entry.case_commitment,
        )
    assert imei15(db.outbox()[0].imei) in imeis


# ----------------------------------------------------------------------------- property

_SNAPSHOT = st.dictionaries(
    st.integers(0, 7),  # which IMEI
    st.tuples(
        st.sampled_from(["STOLEN", "LOST", "DUPLICATED", "INVALID"]),
        st.integers(DAY, DAY + 3),
        st.sampled_from(["", "A", "B"]),
    ),
    max_size=8,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(snapshots=st.lists(_SNAPSHOT, min_size=1, max_size=4), as_json=st.booleans())
def test_successive_snapshots_converge_and_the_outbox_replays_to_the_register(
    db, tmp_path, imei_of, snapshots, as_json
):
    db.reset()
    active: set[str] = set()
    for number, snapshot in enumerate(snapshots):
        rows = [(imei_of(n), kind, at, case) for n, (kind, at, case) in sorted(snapshot.items())]
        if as_json:
            text = "".join(
                json.dumps({"imei": i, "kind": k, "reported_at": a, "case_ref": c}) + "\n"
                for i, k, a, c in rows
            )
            path = write(tmp_path / f"s{number}.ndjson", text)
        else:
            text = "imei,kind,reported_at,case_ref\n" + "".join(f"{i},{k},{a},{c}\n" for i, k, a, c in rows)
            path = write(tmp_path / f"s{number}.csv", text)
        if not rows and active:
            with pytest.raises(ImportFileError):
                run(db, path, missing="recover")
            continue
        outbox_before = len(db.outbox())
        result = run(db, path, missing="recover")
        assert result.bad_rows == []
        assert len(db.outbox()) - outbox_before == result.created
        assert run(db, path, missing="recover").created == 0

        register = db.register()
        for i, kind, at, case in rows:
            entry = register[core(i)]
            assert (entry.kind, entry.reported_at) == (Kind[kind], at)
            assert entry.case_commitment == case_commitment(entry.case_salt, case)
        listed = {core(i) for i, *_ in rows}
        for imei in active - listed:
            assert register[imei].kind == Kind.RECOVERED
        active = listed

    last: dict[str, Record] = {}
    for row in db.outbox():
        last[row.imei] = Record.unpack(row.record)
    register = db.register()
    assert set(last) == set(register)
    for imei, entry in register.items():
        assert (last[imei].kind, last[imei].reported_at, last[imei].case_commitment) == (
            entry.kind,
            entry.reported_at,
            entry.case_commitment,
        )


@pytest.mark.parametrize("block_rows", [0, importer.BLOCK_ROWS])
def test_a_time_of_thousands_of_digits_is_a_bad_row(db, tmp_path, many_imeis, block_rows):
    imeis = many_imeis(3)
    huge = "9" * 5000  # more digits than int() converts
    text = f"imei,kind,reported_at\n{imeis[0]},STOLEN,{DAY}\n{imeis[1]},LOST,{huge}\n{imeis[2]},LOST,{DAY}\n"
    result = run(db, write(tmp_path / "r.csv", text), block_rows=block_rows)
    assert result.created == 2
    assert [(b.line, b.reason) for b in result.bad_rows] == [
        (3, f"reported_at: a 5000-digit number is outside 0 .. {2**32 - 1} (uint32 Unix seconds)")
    ]


def test_chunks_double_at_the_start_and_halve_at_the_end():
    def flushes(total: int, chunk_rows: int) -> list[int]:
        points, at = [], importer._chunk_size(chunk_rows, done=0, remaining=total)
        while at <= total:
            points.append(at)
            at += importer._chunk_size(chunk_rows, done=at, remaining=total - at)
        return points

    small = importer.SMALL_CHUNK_ROWS
    points = flushes(400_000, 50_000)
    sizes = [b - a for a, b in zip([0, *points], points, strict=False)]
    assert sizes[:5] == [small, small, 2 * small, 4 * small, 8 * small]  # doubling up to ...
    assert max(sizes) == 50_000  # ... chunk_rows
    assert sizes[-3:] == sorted(sizes[-3:], reverse=True)  # halving towards the end
    assert min(sizes) == small
    assert 400_000 - points[-1] < small  # the rest: the last chunk
    assert flushes(10, 4) == [4, 8]  # chunk_rows below the small size: as given
