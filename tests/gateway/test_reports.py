"""Register rules of gateway.services.reports, on a real SQLite file."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.exc import DatabaseError

from gateway.errors import ForeignBlockError, NotBlockedError, ReportRejectedError
from gateway.services import reports as reports_module
from gateway.services.reports import (
    ReportInput,
    ReportResult,
    add_report,
    add_reports_bulk,
    in_transaction,
    pack_record,
    recover,
    withdraw,
)
from ledger_node.errors import InvalidIdentifierError
from ledger_node.identifiers import imei15
from ledger_node.record import Kind, Record, case_commitment

COUNTRY = "IN"
NOW = 1_750_000_000
CORE = "49015420323751"
IMEI = imei15(CORE)  # 490154203237518


def report(db, **kwargs) -> ReportResult:
    kwargs.setdefault("country", COUNTRY)
    kwargs.setdefault("now", NOW)
    return in_transaction(db.factory, add_report, **kwargs)


def recover_(db, **kwargs) -> ReportResult:
    kwargs.setdefault("country", COUNTRY)
    kwargs.setdefault("now", NOW)
    return in_transaction(db.factory, recover, **kwargs)


def withdraw_(db, **kwargs) -> ReportResult:
    kwargs.setdefault("country", COUNTRY)
    kwargs.setdefault("now", NOW)
    return in_transaction(db.factory, withdraw, **kwargs)


def decode(record: bytes) -> Record:
    return Record.unpack(record)


# ----------------------------------------------------------------------------- add_report


def test_new_report_writes_register_and_outbox_with_a_salted_commitment(db):
    result = report(db, imei=IMEI, kind="STOLEN", reported_at=NOW - 100, case_ref="FIR-2025-0042")

    assert result.changed
    assert (result.imei, result.kind, result.reported_at, result.previous_kind) == (
        CORE,
        Kind.STOLEN,
        NOW - 100,
        None,
    )
    entry = db.register()[CORE]
    assert (entry.kind, entry.reported_at, entry.updated_at) == (Kind.STOLEN, NOW - 100, NOW)
    assert len(entry.case_salt) == 32
    assert entry.case_commitment == case_commitment(entry.case_salt, "FIR-2025-0042")

    [row] = db.outbox()
    assert (row.imei, row.kind, row.created_at, row.batch_seq) == (CORE, Kind.STOLEN, NOW, None)
    assert row.record == result.record
    assert row.record == Record(CORE, Kind.STOLEN, NOW - 100, entry.case_commitment).pack()


def test_the_case_reference_is_never_stored(db):
    report(db, imei=IMEI, kind="LOST", case_ref="SECRET-CASE-REF-7781")
    contents = db.stored_bytes()
    assert contents
    assert any(bytes.fromhex(CORE) in c or CORE.encode() in c for c in contents)  # the report is there
    for data in contents:
        assert b"SECRET-CASE-REF-7781" not in data


def test_each_new_entry_gets_its_own_salt(db, imei_of):
    report(db, imei=imei_of(1), kind="STOLEN", case_ref="same")
    report(db, imei=imei_of(2), kind="STOLEN", case_ref="same")
    entries = list(db.register().values())
    assert entries[0].case_salt != entries[1].case_salt
    assert entries[0].case_commitment != entries[1].case_commitment


@pytest.mark.parametrize("form", [CORE, IMEI, CORE + "07", f"imei-{IMEI}", f"IMEISV-{CORE}07", f"  {IMEI} "])
def test_every_accepted_imei_form_reaches_the_same_entry(db, form):
    result = report(db, imei=form, kind=Kind.LOST, reported_at=NOW - 5)
    assert result.imei == CORE
    assert list(db.register()) == [CORE]


@pytest.mark.parametrize(
    "bad", ["490154203237519", "4901542032375", "49015420323751x", "imei-49015420323751", ""]
)
def test_bad_identifiers_raise_and_change_nothing(db, bad):
    with pytest.raises(InvalidIdentifierError):
        report(db, imei=bad, kind="STOLEN")
    assert db.register() == {}
    assert db.outbox() == []


def test_identical_repeat_is_a_no_op(db):
    first = report(db, imei=IMEI, kind="STOLEN", reported_at=NOW - 100, case_ref="A-1")
    again = report(db, imei=IMEI, kind="STOLEN", reported_at=NOW - 100, case_ref="A-1", now=NOW + 50)
    omitted = report(db, imei=CORE, kind="stolen", case_ref="A-1", now=NOW + 60)

    assert first.changed
    assert not again.changed
    assert not omitted.changed
    assert (again.record, omitted.reported_at, omitted.previous_kind) == (None, NOW - 100, Kind.STOLEN)
    assert len(db.outbox()) == 1
    assert db.register()[CORE].updated_at == NOW


def test_changed_time_or_case_is_a_new_record_under_the_same_salt(db):
    report(db, imei=IMEI, kind="STOLEN", reported_at=NOW - 100, case_ref="A-1")
    salt = db.register()[CORE].case_salt

    moved = report(db, imei=IMEI, kind="STOLEN", reported_at=NOW - 90, case_ref="A-1")
    recased = report(db, imei=IMEI, kind="STOLEN", reported_at=NOW - 90, case_ref="A-2")

    assert moved.changed
    assert recased.changed
    entry = db.register()[CORE]
    assert entry.case_salt == salt
    assert entry.case_commitment == case_commitment(salt, "A-2")
    assert [decode(r.record).reported_at for r in db.outbox()] == [NOW - 100, NOW - 90, NOW - 90]


def test_lost_then_stolen_updates_the_entry(db):
    report(db, imei=IMEI, kind="LOST", reported_at=NOW - 1000, case_ref="C")
    result = report(db, imei=IMEI, kind="STOLEN", reported_at=NOW - 500, case_ref="C")

    assert result.changed
    assert result.previous_kind is Kind.LOST
    entry = db.register()[CORE]
    assert (entry.kind, entry.reported_at) == (Kind.STOLEN, NOW - 500)
    assert [(r.kind, decode(r.record).kind) for r in db.outbox()] == [
        (Kind.LOST, Kind.LOST),
        (Kind.STOLEN, Kind.STOLEN),
    ]


def test_reported_at_defaults_to_now(db):
    assert report(db, imei=IMEI, kind="DUPLICATED").reported_at == NOW
    assert decode(db.outbox()[0].record).reported_at == NOW


@pytest.mark.parametrize("kind", ["RECOVERED", "WITHDRAWN", Kind.RECOVERED, "FOUND", 0, 9, True])
def test_only_report_kinds_are_accepted(db, kind):
    with pytest.raises(ReportRejectedError, match=r"^kind: "):
        report(db, imei=IMEI, kind=kind)
    assert db.outbox() == []


@pytest.mark.parametrize("kind", ["STOLEN", "LOST", "DUPLICATED", "INVALID", 1, Kind.INVALID, " lost "])
def test_report_kinds_by_name_number_or_enum(db, kind):
    assert report(db, imei=IMEI, kind=kind).changed


@pytest.mark.parametrize("at", [-1, 2**32, NOW + 86_401, 1.5, "1700000000", True])
def test_bad_reported_at_is_rejected_naming_the_field(db, at):
    with pytest.raises(ReportRejectedError, match=r"^reported_at: "):
        report(db, imei=IMEI, kind="STOLEN", reported_at=at)
    assert db.register() == {}


def test_reported_at_bounds_that_are_accepted(db, imei_of):
    assert report(db, imei=imei_of(1), kind="STOLEN", reported_at=0).reported_at == 0
    assert report(db, imei=imei_of(2), kind="STOLEN", reported_at=NOW + 86_400).changed


def test_case_ref_must_be_text(db):
    with pytest.raises(ReportRejectedError, match=r"^case_ref: "):
        report(db, imei=IMEI, kind="STOLEN", case_ref="bad \udcff byte")
    with pytest.raises(ReportRejectedError, match=r"^case_ref: "):
        report(db, imei=IMEI, kind="STOLEN", case_ref=42)


# ----------------------------------------------------------------------------- recover / withdraw


def test_recover_our_own_block(db):
    report(db, imei=IMEI, kind="STOLEN", reported_at=NOW - 100, case_ref="C")
    before = db.register()[CORE]

    result = recover_(db, imei=IMEI, reported_at=NOW - 10)

    assert result.changed
    assert (result.kind, result.previous_kind) == (Kind.RECOVERED, Kind.STOLEN)
    entry = db.register()[CORE]
    assert (entry.kind, entry.reported_at) == (Kind.RECOVERED, NOW - 10)
    assert (entry.case_salt, entry.case_commitment) == (before.case_salt, before.case_commitment)
    last = decode(db.outbox()[-1].record)
    assert (last.kind, last.reported_at, last.case_commitment) == (
        Kind.RECOVERED,
        NOW - 10,
        before.case_commitment,
    )


def test_recovering_twice_is_a_no_op_then_refused_with_a_new_time(db):
    report(db, imei=IMEI, kind="LOST")
    recover_(db, imei=IMEI, reported_at=NOW - 10)

    assert not recover_(db, imei=IMEI).changed
    assert not recover_(db, imei=IMEI, reported_at=NOW - 10).changed
    with pytest.raises(NotBlockedError):
        recover_(db, imei=IMEI, reported_at=NOW - 5)
    assert len(db.outbox()) == 2


def test_recover_a_foreign_block_is_refused_and_changes_nothing(db):
    db.add_country_entry(CORE, "KE", Kind.STOLEN)
    db.add_country_entry(CORE, "BR", Kind.DUPLICATED)
    db.add_country_entry(CORE, "DE", Kind.RECOVERED)

    with pytest.raises(ForeignBlockError) as info:
        recover_(db, imei=IMEI)

    assert (info.value.imei, info.value.country, info.value.owners) == (CORE, COUNTRY, ["BR", "KE"])
    assert "only the country that blocked" in str(info.value)
    assert db.register() == {}
    assert db.outbox() == []


def test_recover_our_block_while_others_also_block(db):
    report(db, imei=IMEI, kind="STOLEN")
    db.add_country_entry(CORE, "KE", Kind.STOLEN)
    assert recover_(db, imei=IMEI).changed


def test_recover_with_our_entry_cleared_and_a_foreign_block(db):
    report(db, imei=IMEI, kind="STOLEN")
    recover_(db, imei=IMEI, reported_at=NOW - 1)
    db.add_country_entry(CORE, "KE", Kind.LOST)
    with pytest.raises(ForeignBlockError):
        recover_(db, imei=IMEI, reported_at=NOW)


def test_recover_what_nobody_blocks(db):
    db.add_country_entry(CORE, "KE", Kind.RECOVERED)
    db.add_country_entry(CORE, COUNTRY, Kind.STOLEN)  # our own ledger rows are not another's block
    with pytest.raises(NotBlockedError):
        recover_(db, imei=IMEI)
    assert db.outbox() == []


def test_withdraw_corrects_our_entry(db):
    report(db, imei=IMEI, kind="INVALID", case_ref="typo")
    result = withdraw_(db, imei=IMEI)
    assert result.changed
    assert db.register()[CORE].kind == Kind.WITHDRAWN
    assert [r.kind for r in db.outbox()] == [Kind.INVALID, Kind.WITHDRAWN]
    assert not withdraw_(db, imei=IMEI).changed


def test_withdraw_another_countrys_entry_is_refused(db):
    db.add_country_entry(CORE, "DE", Kind.LOST)
    with pytest.raises(ForeignBlockError) as info:
        withdraw_(db, imei=IMEI)
    assert info.value.owners == ["DE"]
    assert db.outbox() == []


def test_withdraw_needs_an_active_entry(db):
    with pytest.raises(NotBlockedError):
        withdraw_(db, imei=IMEI)
    report(db, imei=IMEI, kind="STOLEN")
    recover_(db, imei=IMEI)
    with pytest.raises(NotBlockedError):
        withdraw_(db, imei=IMEI, reported_at=NOW + 1)


def test_blocking_again_after_recovery_is_a_new_entry_with_a_new_salt(db):
    report(db, imei=IMEI, kind="STOLEN", case_ref="C")
    old_salt = db.register()[CORE].case_salt
    recover_(db, imei=IMEI)

    again = report(db, imei=IMEI, kind="STOLEN", case_ref="C", reported_at=NOW + 10)

    assert again.changed
    assert again.previous_kind is Kind.RECOVERED
    entry = db.register()[CORE]
    assert entry.kind == Kind.STOLEN
    assert entry.case_salt != old_salt


# ----------------------------------------------------------------------------- transactions


def test_register_and_outbox_commit_together_or_not_at_all(db):
    db.fail_outbox_inserts("disk full")
    with pytest.raises(DatabaseError, match="disk full"):
        report(db, imei=IMEI, kind="STOLEN")
    assert db.register() == {}

    db.drop_outbox_trigger()
    report(db, imei=IMEI, kind="STOLEN")
    assert len(db.register()) == len(db.outbox()) == 1


def test_functions_do_not_commit_the_callers_transaction(db):
    with db.factory() as session:
        session.begin()
        add_report(session, country=COUNTRY, imei=IMEI, kind="LOST", now=NOW)
        session.rollback()
    assert db.register() == {}
    assert db.outbox() == []


def test_pack_record_matches_the_record_codec():
    @given(
        core=st.from_regex(r"\A[0-9]{14}\Z"),
        kind=st.sampled_from(list(Kind)),
        at=st.integers(0, 2**32 - 1),
        commitment=st.binary(min_size=4, max_size=4),
    )
    def check(core: str, kind: Kind, at: int, commitment: bytes) -> None:
        assert pack_record(core, kind, at, commitment) == Record(core, kind, at, commitment).pack()

    check()


# ----------------------------------------------------------------------------- bulk


def test_bulk_applies_good_items_and_reports_bad_ones(db, imei_of):
    foreign, report_only = imei_of(7), imei_of(8)
    db.add_country_entry(foreign[:14], "KE", Kind.STOLEN)
    items = [
        ReportInput(imei_of(1), "STOLEN", NOW - 10, "c1"),  # 0 new
        ReportInput("490154203237519", "STOLEN"),  # 1 bad Luhn
        ReportInput(imei_of(2), "FOUND"),  # 2 unknown kind
        ReportInput(imei_of(3), "LOST", NOW - 9),  # 3 new
        ReportInput(imei_of(3), "STOLEN", NOW - 8),  # 4 update of item 3
        ReportInput(imei_of(1), "STOLEN", NOW - 10, "c1"),  # 5 identical to item 0: no-op
        ReportInput(foreign, "RECOVERED"),  # 6 foreign block
        ReportInput(report_only, Kind.RECOVERED),  # 7 nobody blocks it
        ReportInput(imei_of(3), "RECOVERED", NOW - 7),  # 8 clears item 4's block
        ReportInput(imei_of(4), "INVALID", NOW + 2 * 86_400),  # 9 far future
        ReportInput(imei_of(5), 6),  # 10 withdraw, nothing to withdraw
    ]

    results = in_transaction(db.factory, add_reports_bulk, country=COUNTRY, items=items, now=NOW)

    assert [r.index for r in results] == list(range(len(items)))
    assert [r.ok for r in results] == [True, False, False, True, True, True, False, False, True, False, False]
    codes = {r.index: r.code for r in results if not r.ok}
    assert codes == {
        1: "invalid_identifier",
        2: "rejected",
        6: "foreign_block",
        7: "not_blocked",
        9: "rejected",
        10: "not_blocked",
    }
    assert "check digit" in (results[1].error or "")
    assert (results[2].error or "").startswith("kind: ")
    assert "KE" in (results[6].error or "")
    assert (results[9].error or "").startswith("reported_at: ")
    assert results[1].imei == "490154203237519"
    assert [r.result.changed for r in results if r.result] == [True, True, True, False, True]
    assert results[4].result
    assert results[4].result.previous_kind is Kind.LOST

    assert [(r.imei, r.kind) for r in db.outbox()] == [
        (imei_of(1)[:14], Kind.STOLEN),
        (imei_of(3)[:14], Kind.LOST),
        (imei_of(3)[:14], Kind.STOLEN),
        (imei_of(3)[:14], Kind.RECOVERED),
    ]
    register = db.register()
    assert {k: e.kind for k, e in register.items()} == {
        imei_of(1)[:14]: Kind.STOLEN,
        imei_of(3)[:14]: Kind.RECOVERED,
    }
    assert register[imei_of(3)[:14]].reported_at == NOW - 7


def test_bulk_of_10000_items_uses_one_select_and_a_few_write_statements(db, many_imeis, monkeypatch):
    imeis = many_imeis(10_000)
    in_transaction(
        db.factory,
        add_reports_bulk,
        country=COUNTRY,
        items=[ReportInput(i, "STOLEN", NOW - 1) for i in imeis[:5_000]],
        now=NOW,
    )
    statements: list[tuple[str, bool]] = []

    def listen(_conn, _cursor, statement, _params, _context, executemany) -> None:
        statements.append((statement.split()[0].upper() + " " + statement.split()[2], executemany))

    def copy(connection, statement, rows) -> None:  # PostgreSQL inserts with COPY, past the events
        statements.append(("INSERT " + statement.split()[1], True))
        real_copy(connection, statement, rows)

    real_copy = reports_module._copy
    monkeypatch.setattr(reports_module, "_copy", copy)
    event.listen(db.engine, "before_cursor_execute", listen)
    items = [ReportInput(i, "LOST" if n % 2 else "STOLEN", NOW - 1) for n, i in enumerate(imeis)]
    results = in_transaction(db.factory, add_reports_bulk, country=COUNTRY, items=items, now=NOW)
    event.remove(db.engine, "before_cursor_execute", listen)

    assert all(r.ok for r in results)
    assert sum(r.result is not None and r.result.changed for r in results) == 10_000 - 2_500
    selects = [s for s in statements if s[0].startswith("SELECT")]
    assert len(selects) == 1
    writes = [s for s in statements if not s[0].startswith("SELECT")]
    # New entries, then updates (one executemany), then outbox rows: PostgreSQL copies each insert in
    # one COPY, SQLite inserts in multi-row blocks of at most VALUES_ROWS rows (powers of two, and the
    # last few rows by executemany): a few statements either way, never one per item.
    order = ["INSERT register_entries", "UPDATE SET", "INSERT outbox"]
    assert sorted(dict.fromkeys(w[0] for w in writes), key=order.index) == order
    assert [w[0] for w in writes] == sorted((w[0] for w in writes), key=order.index)
    assert [w for w in writes if w[0] == "UPDATE SET"] == [("UPDATE SET", True)]
    assert len(writes) <= 2 * 16 + 1
    assert len(db.outbox()) == 5_000 + 7_500
    assert len(db.register()) == 10_000


def test_bulk_with_nothing_valid_writes_nothing(db):
    results = in_transaction(
        db.factory, add_reports_bulk, country=COUNTRY, items=[ReportInput("123", "STOLEN")], now=NOW
    )
    assert [r.code for r in results] == ["invalid_identifier"]
    assert db.outbox() == []


# ----------------------------------------------------------------------------- property


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["STOLEN", "LOST", "DUPLICATED", "INVALID", "RECOVERED", "WITHDRAWN"]),
        st.integers(0, 3),  # which IMEI
        st.one_of(st.none(), st.integers(NOW - 5, NOW)),  # reported_at
        st.sampled_from(["", "A", "B"]),  # case_ref
        st.booleans(),  # bulk or single call
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS, foreign=st.sets(st.integers(0, 3)))
def test_random_sequences_keep_register_and_outbox_consistent(db, imei_of, ops, foreign):
    db.reset()
    for n in foreign:
        db.add_country_entry(imei_of(n)[:14], "KE", Kind.STOLEN)
    changed = 0
    for kind, n, at, case_ref, bulk in ops:
        imei = imei_of(n)
        if bulk:
            [item] = in_transaction(
                db.factory,
                add_reports_bulk,
                country=COUNTRY,
                items=[ReportInput(imei, kind, at, case_ref)],
                now=NOW,
            )
            result = item.result
            if result is None:
                assert item.code in {"not_blocked", "foreign_block"}
                assert (item.code == "foreign_block") == (n in foreign)
        else:
            try:
                if kind == "RECOVERED":
                    result = recover_(db, imei=imei, reported_at=at)
                elif kind == "WITHDRAWN":
                    result = withdraw_(db, imei=imei, reported_at=at)
                else:
                    result = report(db, imei=imei, kind=kind, reported_at=at, case_ref=case_ref)
            except ForeignBlockError:
                assert n in foreign
                result = None
            except NotBlockedError:
                assert n not in foreign
                result = None
        changed += bool(result and result.changed)

    outbox = db.outbox()
    assert len(outbox) == changed
    last: dict[str, Record] = {}
    for row in outbox:
        record = decode(row.record)
        assert (record.identifier, int(record.kind)) == (row.imei, row.kind)
        previous = last.get(row.imei)
        if record.kind in (Kind.RECOVERED, Kind.WITHDRAWN):  # clears only an active entry of ours
            assert previous is not None
            assert previous.kind not in (Kind.RECOVERED, Kind.WITHDRAWN)
        assert record != previous  # never an identical record twice in a row
        last[row.imei] = record
    register = db.register()
    assert set(register) == set(last)
    for imei, entry in register.items():
        record = last[imei]
        assert (entry.kind, entry.reported_at, entry.case_commitment) == (
            record.kind,
            record.reported_at,
            record.case_commitment,
        )


def test_bulk_item_with_a_non_string_imei(db):
    results = in_transaction(
        db.factory,
        add_reports_bulk,
        country=COUNTRY,
        items=[ReportInput(490154203237518, "STOLEN")],  # type: ignore[arg-type]
        now=NOW,
    )
    assert [r.code for r in results] == ["invalid_identifier"]
    assert "expected a string" in (results[0].error or "")


def test_country_must_be_an_alpha2_code(db):
    with pytest.raises(ReportRejectedError, match=r"^country: "):
        report(db, country="India", imei=IMEI, kind="STOLEN")
