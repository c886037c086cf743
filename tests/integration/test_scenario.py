"""The cross-border scenario of issue 4, end to end on a real anvil with three separate gateways.

IN reports stolen IMEIs and publishes them; BR and KE (whose policy does not honour IN, see
devnet/countries.toml) follow the ledger. Then IN recovers some, BR reports a duplicated IMEI, and
BR tries to clear IN's block. Every database passes ``audit verify`` at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gateway.db.models import OutboxRecord, RegisterEntry
from gateway.errors import ForeignBlockError
from gateway.services.importer import import_register
from gateway.services.reports import (
    ReportInput,
    add_report,
    add_reports_bulk,
    in_transaction,
    recover,
    withdraw,
)
from gateway.services.status import explain
from ledger_node.devnet import Devnet
from ledger_node.identifiers import imei15
from tests.integration.gateways import DevnetGateway, records_on_chain

pytestmark = pytest.mark.anvil


def cores(n: int) -> list[str]:
    """``n`` distinct random 14-digit IMEI cores."""
    found: set[str] = set()
    while len(found) < n:
        found.add("35" + f"{int.from_bytes(os.urandom(8), 'big') % 10**12:012d}")
    return sorted(found)


def test_three_gateways_stolen_recovered_duplicated_and_foreign_clear(
    fresh_devnet: Devnet, tmp_path: Path, database_url: str
) -> None:
    net = fresh_devnet
    # IN's database on each backend (SQLite, PostgreSQL); BR's and KE's are SQLite files.
    india = DevnetGateway(net, "IN", tmp_path / "IN", {"batch_size": 400, "database_url": database_url})
    brazil, kenya = (DevnetGateway(net, cc, tmp_path / cc, {"batch_size": 400}) for cc in ("BR", "KE"))
    assert "IN" in brazil.settings.honours
    assert "IN" not in kenya.settings.honours  # devnet/countries.toml

    # IN reports 1,000 stolen IMEIs (in the 15-digit form a regulator sends) and publishes them.
    stolen = cores(1000)
    with india.sessions.begin() as session:
        results = add_reports_bulk(
            session,
            country="IN",
            items=[ReportInput(imei15(c), "STOLEN", case_ref=f"FIR-{n}") for n, c in enumerate(stolen)],
        )
    assert all(r.ok and r.result is not None and r.result.changed for r in results)
    report = india.publish()
    assert (report.batches, report.records, report.pending_records) == (3, 1000, 0)
    assert [b.state for b in india.published()] == ["confirmed"] * 3

    for gw in (india, brazil, kenya):
        synced = gw.sync()
        assert (synced.batches, synced.records, synced.quarantined) == (3, 1000, 0)

    signer_in = net.account("IN", "signer").address
    assert set(brazil.statuses(stolen).values()) == {("BLACKLISTED", "IN")}
    assert set(india.statuses(stolen).values()) == {("BLACKLISTED", "IN")}
    assert set(kenya.statuses(stolen).values()) == {("WHITELISTED", "")}
    with brazil.sessions() as s:
        why = explain(s, imei=imei15(stolen[0]), settings=brazil.settings)
    assert (why.status, why.origins, why.stored_status) == ("BLACKLISTED", ["IN"], "BLACKLISTED")
    [entry] = why.contributing
    assert (entry.country, entry.kind, entry.signer) == ("IN", "STOLEN", signer_in)
    assert entry.seq in {b.seq for b in india.published()}
    with kenya.sessions() as s:
        why = explain(s, imei=stolen[0], settings=kenya.settings)
    assert (why.status, why.contributing) == ("WHITELISTED", [])
    assert [(e.country, e.kind) for e in why.other_entries] == [("IN", "STOLEN")]
    assert "not honoured" in why.other_entries[0].note

    # IN recovers 10 of them; BR reports one new IMEI and one of IN's as DUPLICATED.
    recovered, kept = stolen[:10], stolen[10:]
    for imei in recovered:
        result = in_transaction(india.sessions, recover, country="IN", imei=imei)
        assert result.changed
    duplicated = cores(1)[0]
    in_transaction(brazil.sessions, add_report, country="BR", imei=duplicated, kind="DUPLICATED")
    in_transaction(brazil.sessions, add_report, country="BR", imei=kept[0], kind="DUPLICATED")
    assert india.publish().records == 10
    assert brazil.publish().records == 2
    for gw in (india, brazil, kenya):
        synced = gw.sync()
        assert (synced.batches, synced.records, synced.quarantined) == (2, 12, 0)

    br = brazil.statuses(stolen)
    assert {br[i] for i in recovered} == {("WHITELISTED", "")}
    assert {br[i] for i in kept} == {("BLACKLISTED", "IN")}  # BLACKLISTED outranks BR's DUPLICATED
    assert set(india.statuses(recovered).values()) == {("WHITELISTED", "")}
    assert set(kenya.statuses(recovered + kept[1:]).values()) == {("WHITELISTED", "")}
    for gw in (india, brazil, kenya):
        assert gw.statuses([duplicated]) == {duplicated: ("GREYLISTED", "BR")}
    with brazil.sessions() as s:
        why = explain(s, imei=kept[0], settings=brazil.settings)
    assert [e.country for e in why.contributing] == ["IN"]
    assert [(e.country, e.kind) for e in why.other_entries] == [("BR", "DUPLICATED")]
    with kenya.sessions() as s:
        assert explain(s, imei=kept[0], settings=kenya.settings).origins == ["BR"]
    assert kenya.statuses([kept[0]]) == {kept[0]: ("GREYLISTED", "BR")}

    # BR cannot clear IN's block, in any form: a clear error and nothing changed.
    register, outbox = brazil.count(RegisterEntry), brazil.count(OutboxRecord)
    for clear in (recover, withdraw):
        with pytest.raises(
            ForeignBlockError, match=r"BR cannot clear IMEI \d{14}: it is blocked by IN"
        ) as err:
            in_transaction(brazil.sessions, clear, country="BR", imei=kept[1])
        assert err.value.owners == ["IN"]
    with brazil.sessions.begin() as session:
        [item] = add_reports_bulk(session, country="BR", items=[ReportInput(kept[2], "RECOVERED")])
    assert (item.ok, item.code) == (False, "foreign_block")
    assert "blocked by IN" in (item.error or "")
    assert (brazil.count(RegisterEntry), brazil.count(OutboxRecord)) == (register, outbox)
    assert brazil.publish().records == 0
    assert brazil.statuses(kept[1:3]) == {i: ("BLACKLISTED", "IN") for i in kept[1:3]}

    # Every record is on chain once, and every database matches the chain.
    seqs, on_chain = records_on_chain(india.client, "IN", from_block=india.settings.deploy_block)
    assert seqs == [1, 2, 3, 4]
    assert on_chain == {r: 1 for r in india.outbox_records()}
    for gw in (india, brazil, kenya):
        audit = gw.audit()
        assert audit.ok, (gw.country, audit.lines())
        assert audit.records_checked == 1012


def test_register_import_good_and_bad_rows_then_publish_and_sync(
    fresh_devnet: Devnet, tmp_path: Path, database_url: str
) -> None:
    net = fresh_devnet
    kenya = DevnetGateway(net, "KE", tmp_path / "KE", {"database_url": database_url})
    brazil = DevnetGateway(net, "BR", tmp_path / "BR")
    good = cores(60)
    kinds = ["STOLEN", "LOST", "DUPLICATED"]
    expected: dict[str, tuple[str, int]] = {}
    rows = ["imei,kind,reported_at,case_ref"]
    for n, core in enumerate(good):
        kind = kinds[n % 3]
        if n % 2:
            at, at_text = 1_750_000_000 + n, str(1_750_000_000 + n)
        else:
            at, at_text = 1_735_689_600, "2025-01-01"  # an ISO date is midnight UTC
        expected[core] = (kind, at)
        rows.append(f"{imei15(core) if n % 4 else core},{kind},{at_text},KE/{n}")
    other = cores(4)
    wrong_digit = str((int(imei15(other[0])[-1]) + 1) % 10)
    rows[20:20] = [  # bad rows amid the good ones
        f"{other[0]}{wrong_digit},STOLEN,2025-03-01,KE/bad-luhn",
        f"{other[1]},BROKEN,2025-03-01,KE/bad-kind",
        f"{other[2]},LOST,2025-02-30,KE/bad-date",
        f"{other[3]},STOLEN,yesterday,KE/bad-date",
    ]
    bad_lines = [n for n, row in enumerate(rows, 1) if "KE/bad" in row]
    assert bad_lines == [21, 22, 23, 24]
    snapshot = tmp_path / "register.csv"
    snapshot.write_text("\n".join(rows) + "\n", encoding="utf-8")

    first = import_register(kenya.sessions, country="KE", path=snapshot)
    assert (first.rows, first.created, first.unchanged) == (64, 60, 0)
    assert first.by_kind == {"STOLEN": 20, "LOST": 20, "DUPLICATED": 20}
    assert [b.line for b in first.bad_rows] == bad_lines
    reasons = [b.reason for b in first.bad_rows]
    assert reasons[0].startswith("imei:")
    assert "check digit" in reasons[0]
    assert reasons[1].startswith("kind: unknown kind 'BROKEN'")
    assert reasons[2].startswith("reported_at: cannot parse '2025-02-30'")
    assert reasons[3].startswith("reported_at: cannot parse 'yesterday'")
    assert kenya.count(RegisterEntry) == kenya.count(OutboxRecord) == 60

    # The same snapshot again, as CSV or as NDJSON, changes nothing.
    again = import_register(kenya.sessions, country="KE", path=snapshot)
    assert (again.rows, again.created, again.unchanged) == (64, 0, 60)
    assert [b.line for b in again.bad_rows] == bad_lines
    as_json = tmp_path / "register.ndjson"
    as_json.write_text(
        "".join(
            json.dumps(dict(zip(["imei", "kind", "reported_at", "case_ref"], row.split(","), strict=True)))
            + "\n"
            for row in rows[1:]
        ),
        encoding="utf-8",
    )
    assert import_register(kenya.sessions, country="KE", path=as_json).created == 0
    assert kenya.count(RegisterEntry) == kenya.count(OutboxRecord) == 60

    # The imported reports reach another country's gateway through the ledger.
    published = kenya.publish()
    assert (published.batches, published.records) == (1, 60)
    assert kenya.publish().records == 0
    synced = brazil.sync()
    assert (synced.batches, synced.records, synced.quarantined) == (1, 60, 0)
    statuses = brazil.statuses(good + other)
    for core, (kind, _) in expected.items():
        assert statuses[core] == ("GREYLISTED" if kind == "DUPLICATED" else "BLACKLISTED", "KE"), core
    assert {statuses[c] for c in other} == {("WHITELISTED", "")}
    with brazil.sessions() as s:
        for core in good[:4]:
            [entry] = explain(s, imei=core, settings=brazil.settings).contributing
            assert (entry.country, entry.kind, entry.reported_at) == ("KE", *expected[core])
    _, on_chain = records_on_chain(kenya.client, "KE", from_block=kenya.settings.deploy_block)
    assert on_chain == {r: 1 for r in kenya.outbox_records()}
    kenya.sync()
    assert import_register(kenya.sessions, country="KE", path=snapshot).created == 0  # still a no-op
    for gw in (kenya, brazil):
        audit = gw.audit()
        assert audit.ok, (gw.country, audit.lines())
