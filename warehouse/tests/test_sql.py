"""warehouse.sql: what a query reads, the partition rule, parameters, and translations that give
Trino's answers when run on real DuckDB and PostgreSQL."""

from datetime import datetime
from decimal import Decimal

import duckdb
import psycopg
import pytest
import sqlglot

from core.engines import REMOTE_ENGINES
from warehouse.sql import (
    QueryRefused,
    SqlError,
    check_params,
    check_partition_filters,
    parse,
    render,
    tables_read,
    translate,
)

PARTITIONED = {"events": "event_dt", "sessions": "event_dt"}


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("SELECT * FROM events", {"events"}),
        ("SELECT * FROM Events e JOIN USERS u ON u.id = e.id", {"events", "users"}),
        (
            "WITH x AS (SELECT * FROM events) SELECT * FROM x JOIN users USING (id)",
            {"events", "users"},
        ),
        # A CTE named like a table hides the table inside the outer query.
        ("WITH users AS (SELECT id FROM events) SELECT * FROM users", {"events"}),
        ("SELECT * FROM (SELECT id FROM (SELECT id FROM sessions) a) b", {"sessions"}),
        ("SELECT * FROM events WHERE id IN (SELECT id FROM refunds)", {"refunds", "events"}),
        ("SELECT (SELECT max(id) FROM users) AS m FROM events", {"users", "events"}),
        ("SELECT id FROM events UNION ALL SELECT id FROM sessions", {"events", "sessions"}),
        ("SELECT 1", set()),
    ],
)
def test_tables_read(sql, tables):
    assert tables_read(parse(sql).tree) == tables
    assert parse(sql).tables == tables


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM events WHERE event_dt BETWEEN :a AND :b",
        "SELECT * FROM events e WHERE e.event_dt = :d AND e.id > 3",
        "SELECT * FROM users",  # not partitioned
        "SELECT * FROM users u JOIN events e ON e.id = u.id AND e.event_dt = :d",
        "SELECT * FROM events e JOIN sessions s ON s.id = e.id "
        "WHERE e.event_dt = :d AND s.event_dt = :d",
        "WITH x AS (SELECT * FROM events WHERE event_dt >= :d AND event_dt < :e) SELECT * FROM x",
        "SELECT * FROM (SELECT id FROM events WHERE event_dt = :d) t",
        # A correlated UNNEST is a scope of its own that sees events; the SELECT filters it.
        "SELECT k FROM events CROSS JOIN UNNEST(split(payload, ',')) AS t(k) "
        "WHERE event_dt BETWEEN :d AND :e",
        # Literals, and expressions of literals and parameters, are values known before the scan.
        "SELECT * FROM events WHERE event_dt BETWEEN DATE '2026-01-01' AND DATE '2026-01-31'",
        "SELECT * FROM events WHERE event_dt IN (DATE '2026-01-01', :d)",
        "SELECT * FROM events WHERE :d <= event_dt AND :e > event_dt",
        "SELECT * FROM events WHERE event_dt BETWEEN date_add('day', -365, :d) "
        "AND date_add('day', 1, current_date)",
        # Each branch of an OR bounds the column: so does the OR.
        "SELECT * FROM events WHERE (event_dt = :d OR event_dt BETWEEN :e AND :f) AND id = 1",
        "SELECT * FROM events WHERE event_dt >= :d AND (id = 1 AND event_dt <= :e)",
    ],
)
def test_partition_filter_accepted(sql):
    check_partition_filters(parse(sql).tree, PARTITIONED)


@pytest.mark.parametrize(
    ("sql", "table", "missing"),
    [
        ("SELECT * FROM events", "events", "a filter"),
        ("SELECT * FROM events WHERE id = 3", "events", "a filter"),
        (
            "SELECT * FROM events e JOIN sessions s ON s.id = e.id WHERE e.event_dt = :d",
            "sessions",
            "a filter",
        ),
        # Filtering the other table of the join does not count.
        (
            "SELECT * FROM events e JOIN sessions s ON s.id = e.id WHERE s.event_dt = :d",
            "events",
            "a filter",
        ),
        (
            "SELECT * FROM users u JOIN events e ON e.id = u.id WHERE u.signup_dt = :d",
            "events",
            "a filter",
        ),
        # The rule holds in the scope that reads the table, not outside it.
        (
            "WITH x AS (SELECT * FROM events) SELECT * FROM x WHERE event_dt = :d",
            "events",
            "a filter",
        ),
        ("SELECT * FROM (SELECT * FROM sessions) t WHERE t.event_dt = :d", "sessions", "a filter"),
        ("SELECT * FROM users WHERE id IN (SELECT id FROM events)", "events", "a filter"),
        (
            "SELECT k FROM events CROSS JOIN UNNEST(split(payload, ',')) AS t(k)",
            "events",
            "a filter",
        ),
        # Naming the column is not bounding it: this read every partition.
        ("SELECT * FROM events WHERE event_dt IS NOT NULL", "events", "a filter"),
        ("SELECT * FROM events WHERE event_dt <> :d", "events", "a filter"),
        ("SELECT * FROM events WHERE NOT event_dt < :d", "events", "a filter"),
        # One side only reads every partition on the other side.
        ("SELECT * FROM events WHERE event_dt >= :d", "events", "an upper bound"),
        ("SELECT * FROM events WHERE event_dt > DATE '2026-01-01'", "events", "an upper bound"),
        ("SELECT * FROM events WHERE event_dt <= :d", "events", "a lower bound"),
        ("SELECT * FROM events WHERE :d > event_dt", "events", "a lower bound"),
        # A bound by another column, or by a subquery, is not known before the scan.
        ("SELECT * FROM events WHERE event_dt BETWEEN :d AND id", "events", "an upper bound"),
        (
            "SELECT * FROM events WHERE event_dt = (SELECT max(event_dt) FROM sessions "
            "WHERE event_dt BETWEEN :d AND :e)",
            "events",
            "a filter",
        ),
        (
            "SELECT * FROM events e JOIN sessions s ON e.event_dt = s.event_dt "
            "WHERE s.event_dt = :d",
            "events",
            "a filter",
        ),
        (
            "SELECT * FROM events WHERE event_dt IN (SELECT event_dt FROM sessions "
            "WHERE event_dt = :d)",
            "events",
            "a filter",
        ),
        # A bound in only one branch of an OR does not hold for every row.
        ("SELECT * FROM events WHERE event_dt = :d OR id = 3", "events", "a filter"),
        (
            "SELECT * FROM events WHERE event_dt >= :d AND (event_dt <= :e OR id = 3)",
            "events",
            "an upper bound",
        ),
        # A bound on an expression of the column does not prune partitions.
        ("SELECT * FROM events WHERE year(event_dt) = 2026", "events", "a filter"),
    ],
)
def test_partition_filter_refused(sql, table, missing):
    with pytest.raises(
        QueryRefused, match=rf"partitioned table {table} without {missing} on event_dt"
    ):
        check_partition_filters(parse(sql).tree, PARTITIONED)


def test_placeholders_are_collected_and_checked():
    canonical = parse("SELECT * FROM events WHERE event_dt BETWEEN :start AND :end AND x = :start")
    assert canonical.placeholders == {"start", "end"}

    check_params(canonical, {"start": "2024-01-01", "end": None})
    with pytest.raises(SqlError, match="Missing value for parameter :end"):
        check_params(canonical, {"start": "2024-01-01"})
    with pytest.raises(SqlError, match="Unknown parameter 'limit'"):
        check_params(canonical, {"start": 1, "end": 2, "limit": 3})
    with pytest.raises(SqlError, match="'end' has unsupported type list"):
        check_params(canonical, {"start": 1, "end": [2]})


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE events", "Only SELECT queries"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SELECT FROM WHERE (", "does not parse"),
        # Unterminated: sqlglot's tokenizer refuses these (found by schemathesis: a 500).
        ('SELECT 1 FROM "events', "does not parse"),
        ("SELECT 'a", "does not parse"),
    ],
)
def test_parse_refuses(sql, message):
    with pytest.raises(SqlError, match=message):
        parse(sql)


# Translations, run on the real engines over inline rows. The expected values are Trino's.
ROWS = """
WITH t AS (
    SELECT * FROM (VALUES
        (DATE '2024-01-03', 'u1', 1, '{"a": {"b": "x"}}', CAST(0.3 AS DOUBLE)),
        (DATE '2024-01-07', 'u2', 2, '{"a": {"b": "y"}}', CAST(0.5 AS DOUBLE)),
        (DATE '2024-01-08', 'u1', 5, '{"a": {}}', CAST(1.1 AS DOUBLE)),
        (DATE '2024-01-09', 'v3', 4, NULL, CAST(2.0 AS DOUBLE))
    ) AS v (d, who, n, doc, x)
)
"""
TRANSLATED = [
    ("SELECT count_if(n > 1) FROM t", {}, [(3,)]),
    ("SELECT count_if(n > 1), count(*) FROM t WHERE n > 100", {}, [(0, 0)]),
    ("SELECT approx_distinct(who) FROM t", {}, [(3,)]),
    (
        "SELECT json_extract_scalar(doc, '$.a.b') FROM t ORDER BY n",
        {},
        [("x",), ("y",), (None,), (None,)],
    ),
    (
        "SELECT date_trunc('week', d) AS w, count(*) FROM t GROUP BY 1 ORDER BY 1",
        {},
        [(datetime(2024, 1, 1), 2), (datetime(2024, 1, 8), 2)],
    ),
    (
        "SELECT date_add('day', 7, d), date_add('day', :k, d) FROM t WHERE n = 1",
        {"k": 2},
        [(datetime(2024, 1, 10), datetime(2024, 1, 5))],
    ),
    ("SELECT round(sum(x) / 7, 2) FROM t", {}, [(0.56,)]),
    ("SELECT count_if(who LIKE 'u%'), sum(n % 2) FROM t", {}, [(3, 2)]),
    # Under OVER or FILTER the native forms cannot be used as they are.
    (
        "SELECT n, count_if(n > 1) OVER (ORDER BY n) FROM t ORDER BY n",
        {},
        [(1, 0), (2, 1), (4, 2), (5, 3)],
    ),
    ("SELECT count_if(n > 1) FILTER (WHERE who LIKE 'u%') FROM t", {}, [(2,)]),
    # A literal that looks like a bound parameter stays a literal.
    ("SELECT '%(k)s' AS s, :k AS k FROM t WHERE n = 1", {"k": "v"}, [("%(k)s", "v")]),
]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
@pytest.mark.parametrize(("sql", "params", "expected"), TRANSLATED)
def test_translation_gives_trinos_answer(dialect, sql, params, expected, request):
    text = translate(parse(ROWS + sql), dialect)
    if dialect == "duckdb":
        rows = duckdb.connect().execute(text, params).fetchall()
    else:
        with psycopg.connect(request.getfixturevalue("warehouse_pg_dsn")) as conn:
            rows = conn.execute(text, params).fetchall()
    # PostgreSQL's round() answers a numeric.
    assert [tuple(float(v) if isinstance(v, Decimal) else v for v in r) for r in rows] == expected


def test_each_engine_gets_its_native_count_if():
    """The fastest exact form per engine (DuckDB's COUNT(CASE ...) is about 3 times slower than
    its COUNT_IF; `make bench` measures it), typed as Trino's bigint."""
    canonical = parse(ROWS + "SELECT who, count_if(n > 1) AS big FROM t GROUP BY who")
    assert "COUNT_IF(n > 1)" in translate(canonical, "duckdb")
    assert "COUNT(*) FILTER(WHERE n > 1)" in translate(canonical, "postgres")
    assert "COUNT(CASE WHEN n > 1 THEN 1 END)" in translate(canonical, "redshift")
    frame = duckdb.connect().execute(translate(canonical, "duckdb")).df()
    assert str(frame["big"].dtype) == "int64"  # DuckDB's own COUNT_IF is a HUGEINT: a float
    assert dict(zip(frame["who"], frame["big"], strict=True)) == {"u1": 1, "u2": 1, "v3": 1}


def test_pyformat_dialects_double_percent_signs():
    canonical = parse("SELECT n % 7 AS m FROM t WHERE s LIKE 'a%' AND n = :n")
    for dialect in ("postgres", "athena"):
        # What psycopg and pyathena do with the template and a dict of parameters.
        sent = translate(canonical, dialect) % {"n": "1"}
        assert sent == "SELECT n % 7 AS m FROM t WHERE s LIKE 'a%' AND n = 1"
    assert translate(canonical, "duckdb") == "SELECT n % 7 AS m FROM t WHERE s LIKE 'a%' AND n = $n"


def test_translation_leaves_the_cached_tree_alone():
    sql = "SELECT approx_distinct(x), count_if(y) FROM t WHERE event_dt = :d"
    before = parse(sql).tree.sql(dialect="trino")
    translate(parse(sql), "postgres")
    translate(parse(sql), "duckdb")
    assert parse(sql).tree.sql(dialect="trino") == before
    assert "APPROX_COUNT_DISTINCT" in translate(parse(sql), "duckdb")


def test_render_binds_only_what_the_statement_uses_and_keeps_percent_signs():
    """The one renderer of the statements sent through write sessions (erasure, retention,
    results): a pyformat template for every remote engine's driver."""
    tree = sqlglot.parse_one(
        "DELETE FROM t WHERE s LIKE 'a%' AND event_dt < CAST(:cutoff AS DATE)", read="trino"
    )
    for dialect in REMOTE_ENGINES:
        statement = render(tree, dialect, {"cutoff": "2024-01-01", "unused": 1})
        assert statement.params == {"cutoff": "2024-01-01"}
        sent = statement.sql % {"cutoff": "'2024-01-01'"}
        assert "LIKE 'a%'" in sent and "'2024-01-01'" in sent, dialect
