"""The blocklist snapshot and delta feed (gateway.services.blocklist) on real SQLite databases.

The expected blocklist is computed here from the applied records alone (latest record per IMEI and
country, folded by the default policy), independently of ``device_status``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from gateway.api.routers.blocklist import CURSOR_HEADER
from gateway.db.engine import make_engine, migrate, session_factory
from gateway.services.blocklist import (
    CHANGES_MAX_LIMIT,
    CursorAheadError,
    FeedRequestError,
    changes,
    open_snapshot,
)
from ledger_node.identifiers import parse_imei
from ledger_node.record import Kind
from tests.api.conftest import Api
from tests.api.conftest import imei as make_imei
from tests.api.store import COUNTRIES, LedgerWriter
from tests.pg_server import PostgresServer

BLOCKING = {Kind.STOLEN: "BLACKLISTED", Kind.LOST: "BLACKLISTED", Kind.INVALID: "BLACKLISTED",
            Kind.DUPLICATED: "GREYLISTED"}  # fmt: skip
RANK = {"GREYLISTED": 1, "BLACKLISTED": 2}
POOL = [f"35{n:012d}" for n in range(0, 24_000, 1_000)]  # 24 IMEI cores


class Model:
    """The expected blocklist: latest kind per (IMEI, country) over the batches applied, folded."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, str, list[tuple[str, Kind]]]] = []  # (block, country, entries)

    def apply(self, block: int, country: str, entries: list[tuple[str, Kind]]) -> None:
        self.batches.append((block, country, entries))

    def rewind(self, block: int) -> None:
        self.batches = [b for b in self.batches if b[0] <= block]

    def blocklist(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        latest: dict[tuple[str, str], Kind] = {}
        for _block, country, entries in self.batches:
            for core, kind in entries:
                latest[(core, country)] = kind
        per: dict[str, list[tuple[str, str]]] = {}
        for (imei, cc), kind in latest.items():
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_engine(
    request: pytest.FixtureRequest, template: Path, tmp_path: Path
) -> Iterator[Callable[[], Engine]]:
    """Factory of empty migrated databases: SQLite files, or the shared PostgreSQL test database
    emptied (the previous engine of the test is disposed first)."""
    made: list[Engine] = []

    def make() -> Engine:
        if request.param == "sqlite":
            path = tmp_path / f"g{len(made)}.sqlite"
            shutil.copy(template, path)
            url = f"sqlite:///{path}"
        else:
            for old in made:
                old.dispose()
            url = request.getfixturevalue("postgres_server").fresh_database()
        engine = make_engine(url)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture
def engine(new_engine: Callable[[], Engine]) -> Engine:
    return new_engine()


def test_snapshot_lists_blocked_imeis_in_order_with_origins_in_both_formats(engine: Engine) -> None:
    writer, model = LedgerWriter(engine), Model()
    a, b, c, d = POOL[3], POOL[1], POOL[2], POOL[0]
    for cc, entries in [
        ("IN", [(a, Kind.STOLEN), (b, Kind.DUPLICATED), (c, Kind.LOST)]),
        ("BR", [(a, Kind.LOST), (d, Kind.INVALID), (b, Kind.DUPLICATED)]),
        ("IN", [(c, Kind.RECOVERED)]),  # c back to WHITELISTED: not in the snapshot
    ]:
        writer.apply(cc, entries)
        model.apply(writer.block, cc, entries)
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
        st.tuples(st.just("rewind"), st.integers(1, 3), st.just(None)),
    ),
    max_size=25,
)


def check_feed(engine: Engine, ops: list) -> None:
    """Run ``ops`` (applies, reorganisations, feed reads, a snapshot); then both followers, the one
    from cursor 0 and the one from the snapshot, must hold exactly the snapshot, which must be the
    model's fold of the batches that remain."""
    writer, model = LedgerWriter(engine), Model()
    from_start = Follower()
    from_snapshot: Follower | None = None
    for op, arg, batch in ops:
        if op == "apply":
            entries = [(POOL[i], kind) for i, kind in batch]
            writer.apply(arg, entries)
            model.apply(writer.block, arg, entries)
        elif op == "rewind":  # a reorganisation undoes the last blocks' batches
            model.rewind(writer.rewind(arg))
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_following_the_feed_ends_with_exactly_the_snapshot_across_applies_and_reorgs(
    template: Path, tmp_path: Path, ops: list
) -> None:
    path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.sqlite"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        check_feed(engine, ops)
    finally:
        engine.dispose()


@pytest.mark.postgres
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_following_the_feed_on_postgresql(postgres_server: PostgresServer, ops: list) -> None:
    engine = make_engine(postgres_server.fresh_database())
    try:
        check_feed(engine, ops)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------- HTTP


def http_snapshot(api: Api, fmt: str = "csv") -> tuple[int, dict[str, tuple[str, tuple[str, ...]]]]:
    r = api.client.get("/v1/blocklist", params={"format": fmt}, headers=api.auth("operator"))
    assert r.status_code == 200, r.text
    cursor = int(r.headers[CURSOR_HEADER])
    if fmt == "csv":
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(r.text)))
        return cursor, {x["imei"]: (x["status"], tuple(filter(None, x["origins"].split(",")))) for x in rows}
    assert r.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in r.text.splitlines()]
    return cursor, {x["imei"]: (x["status"], tuple(x["origins"])) for x in lines}


def http_follow(api: Api, state: dict[str, tuple[str, tuple[str, ...]]], after: int, limit: int) -> int:
    while True:
        r = api.client.get(
            "/v1/blocklist/changes", params={"after": after, "limit": limit}, headers=api.auth("operator")
        )
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["after"] == after
        assert len(page["changes"]) <= limit
        for change in page["changes"]:
            if change["status"] == "WHITELISTED":
                state.pop(change["imei"], None)
            else:
                state[change["imei"]] = (change["status"], tuple(change["origins"]))
        after = page["cursor"]
        if not page["more"]:
            return after


def core(n: int) -> str:
    return parse_imei(make_imei(n))


def test_http_snapshot_in_both_formats_lists_what_the_policy_blocks(api: Api):
    api.ledger.publish(
        "IN", [(make_imei(1), Kind.STOLEN), (make_imei(2), Kind.DUPLICATED), (make_imei(3), Kind.LOST)]
    )
    api.ledger.publish("BR", [(make_imei(2), Kind.DUPLICATED), (make_imei(4), Kind.INVALID)])
    api.ledger.publish("KE", [(make_imei(5), Kind.STOLEN)])  # KE is not honoured by this gateway
    api.ledger.publish("IN", [(make_imei(3), Kind.RECOVERED)])
    expected = {
        core(1): ("BLACKLISTED", ("IN",)),
        core(2): ("GREYLISTED", ("BR", "IN")),
        core(4): ("BLACKLISTED", ("BR",)),
    }
    csv_cursor, listed = http_snapshot(api, "csv")
    assert listed == expected
    nd_cursor, listed = http_snapshot(api, "ndjson")
    assert listed == expected
    assert csv_cursor == nd_cursor > 0
    r = api.client.get("/v1/blocklist", headers=api.auth("admin"))
    assert r.text.splitlines()[0] == "imei,status,origins"
    assert r.text.splitlines()[1:] == sorted(r.text.splitlines()[1:])
    assert f'{core(2)},GREYLISTED,"BR,IN"' in r.text.splitlines()


def test_http_feed_followed_across_publishes_ends_with_the_snapshot(api: Api):
    state: dict[str, tuple[str, tuple[str, ...]]] = {}
    cursor = http_follow(api, state, 0, 2)
    assert (cursor, state) == (0, {})
    api.ledger.publish("IN", [(make_imei(n), Kind.STOLEN) for n in range(1, 8)])
    cursor = http_follow(api, state, cursor, 3)
    snap_cursor, snapshot = http_snapshot(api)
    assert (cursor, state) == (snap_cursor, snapshot)
    # From here a snapshot-based client and a feed-only client see the same changes.
    from_snapshot = dict(snapshot)
    api.ledger.publish("IN", [(make_imei(1), Kind.RECOVERED), (make_imei(2), Kind.WITHDRAWN)])
    api.ledger.publish(
        "DE", [(make_imei(3), Kind.LOST), (make_imei(9), Kind.DUPLICATED), (make_imei(1), Kind.STOLEN)]
    )
    api.ledger.publish("IN", [(make_imei(3), Kind.RECOVERED)])
    cursor = http_follow(api, state, cursor, 2)
    http_follow(api, from_snapshot, snap_cursor, 1000)
    final_cursor, final = http_snapshot(api, "ndjson")
    assert state == from_snapshot == final
    assert cursor == final_cursor
    assert final[core(1)] == ("BLACKLISTED", ("DE",))
    assert core(2) not in final
    assert final[core(3)] == ("BLACKLISTED", ("DE",))


def test_http_feed_and_snapshot_errors_are_problems(api: Api):
    h = api.auth("operator")
    api.ledger.publish("IN", [(make_imei(1), Kind.STOLEN)])
    for params, name in [
        ({"after": -1}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": CHANGES_MAX_LIMIT + 1}, "limit"),
        ({"after": "x"}, "after"),
    ]:
        r = api.client.get("/v1/blocklist/changes", params=params, headers=h)
        assert r.status_code == 422, params
        assert r.headers["content-type"] == "application/problem+json"
        assert [p["name"] for p in r.json()["invalid_params"]] == [name]
    ahead = api.client.get("/v1/blocklist/changes", params={"after": 2}, headers=h)
    assert ahead.status_code == 409
    assert ahead.json()["type"] == "urn:crossblock:problem:cursor-ahead"
    bad = api.client.get("/v1/blocklist", params={"format": "xml"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["invalid_params"][0]["name"] == "format"


@pytest.mark.parametrize("path", ["/v1/blocklist", "/v1/blocklist/changes"])
def test_blocklist_is_for_operators(api: Api, path: str):
    unauthenticated = api.client.get(path)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    for role in ("regulator", "auditor"):
        r = api.client.get(path, headers=api.auth(role))
        assert r.status_code == 403, role
        assert r.headers["content-type"] == "application/problem+json"
    for role in ("operator", "admin"):
        assert api.client.get(path, headers=api.auth(role)).status_code == 200
