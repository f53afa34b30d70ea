"""The keys of a JSON object (Trino: UNNEST(map_keys(CAST(json AS map(varchar, json))))) on
DuckDB and PostgreSQL, checked against Python's json; Redshift refuses the construct."""

import json
import uuid
from collections import Counter

import duckdb
import psycopg
import pytest
from psycopg import sql

from warehouse.sql import SqlError, parse, translate

DOCUMENTS = [
    '{"email": "a@b.c", "path": "/x", "nested": {"inner": 1}}',
    '{"path": "/y", "empty": null}',
    "{}",
    "[1, 2]",  # not an object: no keys under try()
    "3",
    '"text"',
    None,
]
GUARDED = """
SELECT key, count(*) AS n
FROM docs
CROSS JOIN UNNEST(map_keys(try(CAST(json_parse(payload) AS map(varchar, json))))) AS keys (key)
GROUP BY key
"""
UNGUARDED = GUARDED.replace("try(CAST(", "(CAST(")


def keys_by_json(documents) -> dict[str, int]:
    counts: Counter = Counter()
    for text in documents:
        document = json.loads(text) if text is not None else None
        if isinstance(document, dict):
            counts.update(list(document))
    return dict(counts)


def run_duckdb(canonical: str, documents) -> dict[str, int]:
    con = duckdb.connect()
    con.execute("CREATE TABLE docs (payload VARCHAR)")
    con.executemany("INSERT INTO docs VALUES (?)", [[d] for d in documents])
    return dict(con.execute(translate(parse(canonical), "duckdb")).fetchall())


def run_postgres(dsn: str, canonical: str, documents) -> dict[str, int]:
    table = sql.Identifier(f"docs_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(dsn) as conn:  # one transaction, rolled back: the table never stays
        conn.execute(sql.SQL("CREATE TEMP TABLE {} (payload text)").format(table))
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {} VALUES (%s)").format(table), [[d] for d in documents]
            )
        text = translate(parse(canonical), "postgres").replace("docs", table.as_string(conn))
        rows = conn.execute(text, {}).fetchall()
        conn.rollback()
    return dict(rows)


def test_postgres_lists_json_keys_as_jsonb_object_keys():
    text = translate(parse(GUARDED), "postgres")
    assert "JSONB_OBJECT_KEYS(CASE WHEN JSONB_TYPEOF(CAST(payload AS JSONB)) = 'object'" in text
    assert "MAP" not in text.upper().replace("MAP_", "")  # no map type left
    assert "AS keys(key)" in text


def test_duckdb_and_postgres_agree_with_json(warehouse_pg_dsn):
    expected = keys_by_json(DOCUMENTS)
    assert expected == {"email": 1, "path": 2, "nested": 1, "empty": 1}
    assert run_duckdb(GUARDED, DOCUMENTS) == expected
    assert run_postgres(warehouse_pg_dsn, GUARDED, DOCUMENTS) == expected


def test_without_try_a_document_that_is_not_an_object_fails_as_on_trino(warehouse_pg_dsn):
    objects = [d for d in DOCUMENTS if d is None or d.startswith("{")]
    assert run_postgres(warehouse_pg_dsn, UNGUARDED, objects) == keys_by_json(objects)
    with pytest.raises(duckdb.Error):
        run_duckdb(UNGUARDED, ["[1, 2]"])
    with pytest.raises(psycopg.Error, match="array"):
        run_postgres(warehouse_pg_dsn, UNGUARDED, ["[1, 2]"])


def test_redshift_refuses_rather_than_writing_sql_it_cannot_run():
    with pytest.raises(SqlError, match="no Redshift translation"):
        translate(parse(GUARDED), "redshift")
