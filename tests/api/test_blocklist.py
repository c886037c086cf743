"""The blocklist snapshot and delta feed (gateway.services.blocklist) on real SQLite databases.

The expected blocklist is computed here from the applied records alone (latest record per IMEI and
country, folded by the default policy), independently of ``device_status``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from gateway.db.engine import make_engine, migrate, session_factory
from gateway.services.blocklist import (
    CHANGES_MAX_LIMIT,
    CursorAheadError,
    FeedRequestError,
    changes,
    open_snapshot,
)
from ledger_node.record import Kind
from tests.api.store import COUNTRIES, LedgerWriter

BLOCKING = {Kind.STOLEN: "BLACKLISTED", Kind.LOST: "BLACKLISTED", Kind.INVALID: "BLACKLISTED",
            Kind.DUPLICATED: "GREYLISTED"}  # fmt: skip
RANK = {"GREYLISTED": 1, "BLACKLISTED": 2}
POOL = [f"35{n:012d}" for n in range(0, 24_000, 1_000)]  # 24 IMEI cores


class Model:
    """The expected blocklist: latest kind per (IMEI, country), folded."""

    def __init__(self) -> None:
        self.latest: dict[tuple[str, str], Kind] = {}

    def apply(self, country: str, entries: list[tuple[str, Kind]]) -> None:
        for imei, kind in entries:
            self.latest[(imei, country)] = kind

    def blocklist(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        per: dict[str, list[tuple[str, str]]] = {}
        for (imei, cc), kind in self.latest.items():
            status = BLOCKING.get(kind)
            if status is not None:
                per.setdefault(imei, []).append((status, cc))
        out: dict[str, tuple[str, tuple[str, ...]]] = {}
        for imei, hits in per.items():
            best = max(RANK[s] for s, _ in hits)
            status = next(s for s, r in RANK.items() if r == best)
            out[imei] = (status, tuple(sorted({cc for s, cc in hits if s == status})))
        return out


def snapshot_dict(engine: Engine, chunk: int = 7) -> tuple[int, dict[str, tuple[str, tuple[str, ...]]]]:
    with open_snapshot(engine=engine, chunk=chunk) as snap:
        lines = b"".join(snap.ndjson()).decode().splitlines()
        cursor = snap.cursor
    rows = [json.loads(line) for line in lines]
    assert [r["imei"] for r in rows] == sorted(r["imei"] for r in rows)
    return cursor, {r["imei"]: (r["status"], tuple(r["origins"])) for r in rows}


class Follower:
    """A feed client: applies pages from its cursor (WHITELISTED removes an IMEI)."""

    def __init__(self, cursor: int = 0, state: dict[str, tuple[str, tuple[str, ...]]] | None = None) -> None:
        self.cursor = cursor
        self.state = dict(state or {})

    def step(self, engine: Engine, limit: int) -> bool:
        with session_factory(engine)() as session:
            page = changes(session, after=self.cursor, limit=limit)
        assert page.after == self.cursor
        ids = [c.change_id for c in page.changes]
        assert ids == sorted(set(ids))
        assert all(i > self.cursor for i in ids)
        for change in page.changes:
            if change.status == "WHITELISTED":
                assert change.origins == ()
                self.state.pop(change.imei, None)
            else:
                self.state[change.imei] = (change.status, change.origins)
        self.cursor = page.cursor
        return page.more

    def catch_up(self, engine: Engine, limit: int = 5) -> None:
        while self.step(engine, limit):
            pass


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty migrated database file, copied for each example."""
    path = tmp_path_factory.mktemp("blocklist") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def engine(template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "g.sqlite"
    shutil.copy(template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


def test_snapshot_lists_blocked_imeis_in_order_with_origins_in_both_formats(engine: Engine) -> None:
    writer, model = LedgerWriter(engine), Model()
    a, b, c, d = POOL[3], POOL[1], POOL[2], POOL[0]
    for cc, entries in [
        ("IN", [(a, Kind.STOLEN), (b, Kind.DUPLICATED), (c, Kind.LOST)]),
        ("BR", [(a, Kind.LOST), (d, Kind.INVALID), (b, Kind.DUPLICATED)]),
        ("IN", [(c, Kind.RECOVERED)]),  # c back to WHITELISTED: not in the snapshot
    ]:
        writer.apply(cc, entries)
        model.apply(cc, entries)
    with open_snapshot(engine=engine, chunk=2) as snap:
        text = b"".join(snap.csv()).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["imei", "status", "origins"],
        [d, "BLACKLISTED", "BR"],
        [b, "GREYLISTED", "BR,IN"],
        [a, "BLACKLISTED", "BR,IN"],
    ]
    cursor, listed = snapshot_dict(engine)
    assert listed == model.blocklist()
    assert cursor == 7  # IN: a, b, c; BR: a (origins), d, b (origins); IN: c recovered


def test_empty_database_gives_header_only_and_cursor_zero(engine: Engine) -> None:
    with open_snapshot(engine=engine) as snap:
        assert snap.cursor == 0
        assert b"".join(snap.csv()) == b"imei,status,origins\n"
    with session_factory(engine)() as session:
        page = changes(session, after=0, limit=10)
    assert (page.cursor, page.head, page.more, page.changes) == (0, 0, False, [])


def test_snapshot_is_one_consistent_read_while_the_syncer_writes(engine: Engine) -> None:
    writer = LedgerWriter(engine)
    writer.apply("KE", [(imei, Kind.STOLEN) for imei in POOL[:10]])
    snap = open_snapshot(engine=engine, chunk=3)
    chunks = snap.ndjson()
    first = next(chunks)
    # Applied after the snapshot started: removes two IMEIs it has not read yet and adds others.
    writer.apply("KE", [(POOL[8], Kind.RECOVERED), (POOL[9], Kind.WITHDRAWN), (POOL[20], Kind.LOST)])
    rest = b"".join(chunks)
    imeis = [json.loads(line)["imei"] for line in (first + rest).decode().splitlines()]
    assert imeis == POOL[:10]
    assert snap.cursor == 10
    _, now = snapshot_dict(engine)
    assert sorted(now) == [*POOL[:8], POOL[20]]


def test_a_recovery_is_a_feed_entry_with_status_whitelisted(engine: Engine) -> None:
    writer = LedgerWriter(engine)
    writer.apply("DE", [(POOL[0], Kind.STOLEN), (POOL[1], Kind.STOLEN)])
    follower = Follower()
    follower.catch_up(engine)
    assert set(follower.state) == {POOL[0], POOL[1]}
    writer.apply("DE", [(POOL[0], Kind.RECOVERED)])
    with session_factory(engine)() as session:
        page = changes(session, after=follower.cursor, limit=100)
    assert [(c.imei, c.status, c.origins) for c in page.changes] == [(POOL[0], "WHITELISTED", ())]
    assert page.cursor == page.head == follower.cursor + 1


def test_feed_rejects_bad_requests(engine: Engine) -> None:
    LedgerWriter(engine).apply("IN", [(POOL[0], Kind.STOLEN)])
    with session_factory(engine)() as session:
        with pytest.raises(CursorAheadError, match="ahead of the newest change"):
            changes(session, after=2, limit=1)
        for after, limit in [(-1, 1), (0, 0), (0, CHANGES_MAX_LIMIT + 1)]:
            with pytest.raises(FeedRequestError):
                changes(session, after=after, limit=limit)


KINDS = st.sampled_from(list(Kind))
BATCH = st.lists(st.tuples(st.integers(0, len(POOL) - 1), KINDS), min_size=1, max_size=12)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), st.sampled_from(COUNTRIES), BATCH),
        st.tuples(st.just("read"), st.integers(1, 6), st.just(None)),
        st.tuples(st.just("snapshot"), st.integers(1, 5), st.just(None)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_following_the_feed_ends_with_exactly_the_snapshot(template: Path, tmp_path: Path, ops: list) -> None:
    path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.sqlite"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        writer, model = LedgerWriter(engine), Model()
        from_start = Follower()
        from_snapshot: Follower | None = None
        for op, arg, batch in ops:
            if op == "apply":
                entries = [(POOL[i], kind) for i, kind in batch]
                writer.apply(arg, entries)
                model.apply(arg, entries)
            elif op == "read":
                from_start.step(engine, arg)
                if from_snapshot is not None:
                    from_snapshot.step(engine, arg)
            elif from_snapshot is None:  # a second client starts from a snapshot and its cursor
                cursor, listed = snapshot_dict(engine, chunk=arg)
                from_snapshot = Follower(cursor, listed)
        from_start.catch_up(engine)
        cursor, expected = snapshot_dict(engine)
        assert expected == model.blocklist()
        assert from_start.state == expected
        assert from_start.cursor == cursor
        if from_snapshot is not None:
            from_snapshot.catch_up(engine)
            assert from_snapshot.state == expected
    finally:
        engine.dispose()
