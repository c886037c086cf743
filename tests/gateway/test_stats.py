"""Effectiveness statistics (gateway.services.stats) on a real SQLite file."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from gateway.db.models import (
    BLACKLISTED,
    GREYLISTED,
    WHITELISTED,
    CheckEvent,
    DeviceStatus,
    LedgerRecord,
    OutboxRecord,
)
from gateway.services.reports import add_report, in_transaction
from gateway.services.stats import CROSS_BORDER, DOMESTIC, NO_ORIGIN, record_check, record_checks, stats
from ledger_node.record import Kind

COUNTRY = "IN"
NOW = 1_750_000_000
DAY = "2025-06-15"


def check(db, status: int, origins: list[str], day: str | None = DAY) -> None:
    with db.factory.begin() as s:
        record_check(s, status=status, origins=origins, own_country=COUNTRY, day=day)


def counters(db) -> dict[tuple[str, str, int], int]:
    with db.factory() as s:
        return {(e.day, e.origin, e.status): e.hits for e in s.scalars(select(CheckEvent))}


def test_record_check_counts_per_origin_and_once_per_check(db):
    check(db, WHITELISTED, [])
    check(db, WHITELISTED, [])
    check(db, BLACKLISTED, ["KE"])
    check(db, BLACKLISTED, ["KE", "IN"])
    check(db, GREYLISTED, ["BR", "BR"])
    check(db, BLACKLISTED, ["KE"], day="2025-06-16")

    assert counters(db) == {
        (DAY, NO_ORIGIN, WHITELISTED): 2,
        (DAY, "KE", BLACKLISTED): 2,
        (DAY, "IN", BLACKLISTED): 1,
        (DAY, CROSS_BORDER, BLACKLISTED): 1,
        (DAY, DOMESTIC, BLACKLISTED): 1,
        (DAY, "BR", GREYLISTED): 1,
        (DAY, CROSS_BORDER, GREYLISTED): 1,
        ("2025-06-16", "KE", BLACKLISTED): 1,
        ("2025-06-16", CROSS_BORDER, BLACKLISTED): 1,
    }


def test_record_checks_writes_the_counters_of_one_record_check_per_key(db):
    aggregated = {
        (DAY, WHITELISTED, ""): 5,
        (DAY, BLACKLISTED, "KE"): 3,
        (DAY, BLACKLISTED, "IN,KE"): 2,
        (DAY, GREYLISTED, "BR"): 4,
        (DAY, BLACKLISTED, "BR,KE"): 1,
        ("2025-06-16", BLACKLISTED, "KE"): 7,
    }
    with db.factory.begin() as s:
        record_checks(s, counts=aggregated, own_country=COUNTRY)
    # the same checks one key at a time, on other days ("2025-06-15" -> "2026-06-15")
    with db.factory.begin() as s:
        for (day, status, origins), n in aggregated.items():
            record_check(s, status=status, origins=origins.split(",") if origins else [], own_country=COUNTRY,
                         day="2026" + day[4:], count=n)  # fmt: skip
    rows = counters(db)
    together = {key: n for key, n in rows.items() if key[0].startswith("2025")}
    one_by_one = {("2025" + day[4:], origin, status): n for (day, origin, status), n in rows.items()
                  if day.startswith("2026")}  # fmt: skip
    assert together == one_by_one
    assert together[(DAY, "KE", BLACKLISTED)] == 6
    assert together[(DAY, CROSS_BORDER, BLACKLISTED)] == 4
    assert together[(DAY, DOMESTIC, BLACKLISTED)] == 2


def test_record_check_defaults_to_today_utc(db):
    check(db, WHITELISTED, [], day=None)
    [(day, _, _)] = counters(db)
    assert len(day) == 10
    assert day[4] == day[7] == "-"


def test_stats_summarise_ledger_statuses_checks_and_outbox(db):
    with db.factory.begin() as s:
        rows = [
            ("IN", 1, 0, Kind.STOLEN),
            ("IN", 1, 1, Kind.STOLEN),
            ("IN", 1, 2, Kind.RECOVERED),
            ("KE", 1, 0, Kind.LOST),
            ("KE", 2, 0, Kind.RECOVERED),
            ("KE", 2, 1, Kind.RECOVERED),
            ("BR", 1, 0, Kind.DUPLICATED),
        ]
        for n, (cc, seq, idx, kind) in enumerate(rows):
            s.add(
                LedgerRecord(
                    country=cc,
                    seq=seq,
                    idx=idx,
                    imei=f"{n:014d}",
                    kind=int(kind),
                    reported_at=NOW,
                )
            )
        statuses = [
            (BLACKLISTED, "IN"),
            (BLACKLISTED, "IN,KE"),
            (BLACKLISTED, "KE"),
            (GREYLISTED, "BR"),
            (WHITELISTED, ""),
        ]
        for n, (status, origins) in enumerate(statuses):
            s.add(DeviceStatus(imei=f"{n:014d}", status=status, origins=origins, change_id=n + 1))
    for n in range(3):
        in_transaction(
            db.factory, add_report, country=COUNTRY, imei=f"4901542032375{n}", kind="STOLEN", now=NOW
        )
    in_transaction(db.factory, add_report, country=COUNTRY, imei="49015420323759", kind="LOST", now=NOW)
    with db.factory.begin() as s:
        s.execute(update(OutboxRecord).where(OutboxRecord.id <= 2).values(batch_seq=1))
    check(db, WHITELISTED, [])
    check(db, BLACKLISTED, ["IN"])
    check(db, BLACKLISTED, ["KE"])
    check(db, BLACKLISTED, ["KE", "IN"])
    check(db, GREYLISTED, ["BR"])
    check(db, GREYLISTED, ["BR"], day="2025-06-16")

    with db.factory() as s:
        result = stats(s, country=COUNTRY)

    assert result == {
        "country": "IN",
        "records": {
            "BR": {"DUPLICATED": 1},
            "IN": {"STOLEN": 2, "RECOVERED": 1},
            "KE": {"LOST": 1, "RECOVERED": 2},
        },
        "recoveries": {"BR": 0, "IN": 1, "KE": 2},
        "statuses": {"WHITELISTED": 1, "GREYLISTED": 1, "BLACKLISTED": 3},
        "statuses_by_origin": {
            "BR": {"WHITELISTED": 0, "GREYLISTED": 1, "BLACKLISTED": 0},
            "IN": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 2},
            "KE": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 2},
        },
        "checks": {
            "total": 6,
            "by_status": {"WHITELISTED": 1, "GREYLISTED": 2, "BLACKLISTED": 3},
            "domestic": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 2},
            "cross_border": {"WHITELISTED": 0, "GREYLISTED": 2, "BLACKLISTED": 1},
            "by_origin": {
                "BR": {"WHITELISTED": 0, "GREYLISTED": 2, "BLACKLISTED": 0},
                "IN": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 2},
                "KE": {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 2},
            },
        },
        "blocked_attempts": {
            "total": 5,
            "domestic": 2,
            "cross_border": 3,
            "by_origin": {"BR": 2, "IN": 2, "KE": 2},
        },
        "outbox_depth": 2,
        "register": {"STOLEN": 3, "LOST": 1},
    }
    assert json.loads(json.dumps(result)) == result


def test_stats_of_an_empty_database(db):
    with db.factory() as s:
        result = stats(s, country=COUNTRY)
    assert result["records"] == {}
    assert result["checks"]["total"] == 0
    assert result["blocked_attempts"] == {"total": 0, "domestic": 0, "cross_border": 0, "by_origin": {}}
    assert result["outbox_depth"] == 0
    assert result["statuses"] == {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 0}
