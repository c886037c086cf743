"""Multi-row INSERT statements on SQLite write exactly what executemany writes."""

from __future__ import annotations

import sqlite3

import pytest

from gateway.db.bulk import VALUES_ROWS, sqlite_insert_values

UPSERT = (
    "INSERT INTO t (k, v, n) VALUES (?, ?, ?) "
    "ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = t.n + excluded.n"
)


def table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER, n INTEGER)")
    return conn


@pytest.mark.parametrize("count", [0, 1, 15, 16, 17, VALUES_ROWS - 1, VALUES_ROWS, 2 * VALUES_ROWS + 37])
def test_insert_values_equals_executemany_in_order(count: int) -> None:
    # Keys repeat, so the ON CONFLICT tail must see earlier rows exactly as executemany does.
    rows = [(f"k{i % 700:04d}", i, 1) for i in range(count)]
    bulk, plain = table(), table()
    sqlite_insert_values(bulk, UPSERT, rows)
    plain.executemany(UPSERT, rows)
    query = "SELECT k, v, n FROM t ORDER BY k"
    assert bulk.execute(query).fetchall() == plain.execute(query).fetchall()
    assert len(bulk.execute(query).fetchall()) == min(count, 700)


def test_insert_values_respects_a_low_variable_limit() -> None:
    conn = table()
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)  # 33 rows of 3 at most per statement
    rows = [(f"k{i:04d}", i, 1) for i in range(500)]
    sqlite_insert_values(conn, UPSERT, rows)
    assert conn.execute("SELECT count(*), sum(v) FROM t").fetchone() == (500, sum(range(500)))


def test_insert_values_refuses_a_statement_without_values() -> None:
    with pytest.raises(ValueError, match="VALUES"):
        sqlite_insert_values(table(), "INSERT INTO t SELECT * FROM t", [(1, 2, 3)])
