from __future__ import annotations

import time

import pytest

from c13_middleware.client._sql import MAX_SCAN, sanitize_sql, summarize_sql


@pytest.mark.parametrize(
    ("raw", "sanitized"),
    [
        ("SELECT * FROM t WHERE a = 'secret' AND b = 42", "SELECT * FROM t WHERE a = ? AND b = ?"),
        ("SELECT * FROM t WHERE a = 'it''s' OR a = 'x\\'y'", "SELECT * FROM t WHERE a = ? OR a = ?"),
        (
            "UPDATE t SET flag = TRUE, other = false, n = -1.5e3, h = 0xDEADbeef",
            "UPDATE t SET flag = ?, other = ?, n = -?, h = ?",
        ),
        ("SELECT x'0A1B', E'tab\\t', N'name', $$dollar secret$$, $fn$ body $fn$ FROM t", "SELECT ?, ?, ?, ?, ? FROM t"),
        ("SELECT a FROM t WHERE id IN (1, 2, 3, 4)", "SELECT a FROM t WHERE id IN (?)"),
        ("SELECT a FROM t WHERE id in (%s, %s, %s)", "SELECT a FROM t WHERE id in (?)"),
        ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "INSERT INTO t (a, b) VALUES (?, ?)"),
        ("SELECT 1 -- the user's password is hunter2\nFROM t /* card 4111 */", "SELECT ? FROM t"),
        (
            'SELECT "col1", t2.c3 FROM "tab 9" t2 WHERE t2.c3 = $1 AND t2.x = :name AND y = ?',
            'SELECT "col1", t2.c3 FROM "tab 9" t2 WHERE t2.c3 = $1 AND t2.x = :name AND y = ?',
        ),
        ("SELECT a::int FROM t", "SELECT a::int FROM t"),
        ("SELECT NULL, true_flag FROM t", "SELECT NULL, true_flag FROM t"),
        ("SELECT 'never closed secret", "SELECT ?"),
        ("SELECT a /* never closed secret", "SELECT a"),
        ("SELECT   a,\n\t b   FROM t", "SELECT a, b FROM t"),
    ],
)
def test_literals_become_placeholders(raw: str, sanitized: str) -> None:
    assert sanitize_sql(raw) == sanitized


def test_no_literal_survives_whatever_the_quoting() -> None:
    secrets = ["hunter2", "4111111111111111", "alice@example.com"]
    statements = [
        "SELECT * FROM users WHERE email = 'alice@example.com' AND pw = 'hunter2' AND card = 4111111111111111",
        "SELECT * FROM users WHERE email = E'alice@example.com' -- hunter2\n AND card = '4111111111111111'",
        "SELECT $q$alice@example.com$q$, 'hunter2' || 'x', 4111111111111111",
        "SELECT 'a''b', 'alice@example.com', /* hunter2 */ 4111111111111111",
        "SELECT 'it\\'s alice@example.com hunter2', 4111111111111111",
    ]
    for statement in statements:
        out = sanitize_sql(statement)
        assert not any(secret in out for secret in secrets), out


def test_work_is_bounded() -> None:
    hostile = "SELECT " + "'" * 200_000 + "x" * 200_000  # quotes, never balanced, then a huge tail
    start = time.perf_counter()
    out = sanitize_sql(hostile)
    assert time.perf_counter() - start < 0.5
    assert len(out) <= MAX_SCAN and "x" not in out
    nested = "SELECT " + "(" * 50_000 + "1" + ")" * 50_000
    start = time.perf_counter()
    assert summarize_sql(sanitize_sql(nested))[0] == "SELECT"
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("statement", "summary"),
    [
        ('SELECT "shop_item"."id" FROM "shop_item" WHERE "shop_item"."owner_id" = %s', ("SELECT", "shop_item")),
        ("select a from public.orders o join customers c on c.id = o.cid", ("SELECT", "public.orders")),
        ("INSERT INTO orders (a) VALUES (?)", ("INSERT", "orders")),
        ("UPDATE ONLY accounts SET balance = ?", ("UPDATE", "accounts")),
        ("DELETE FROM sessions WHERE expires < ?", ("DELETE", "sessions")),
        ("CREATE TABLE IF NOT EXISTS items (id integer)", ("CREATE", "items")),
        ("DROP INDEX items_idx", ("DROP", "items_idx")),
        ("WITH recent AS (SELECT * FROM orders) SELECT * FROM recent", ("SELECT", "recent")),
        ("SELECT * FROM (SELECT a FROM t) AS sub", ("SELECT", None)),
        ("SELECT ?", ("SELECT", None)),
        ("BEGIN", ("BEGIN", None)),
        ("SAVEPOINT s1", ("SAVEPOINT", None)),
        ("frobnicate the database", (None, None)),
        ("", (None, None)),
    ],
)
def test_summary(statement: str, summary: tuple[str | None, str | None]) -> None:
    assert summarize_sql(sanitize_sql(statement)) == summary
