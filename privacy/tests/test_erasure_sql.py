"""Erasure statements for SQL warehouses: they parse in each dialect, and on a real PostgreSQL
copy of the lake they erase exactly the rows pandas says hold the ids."""

import re

import psycopg
import pytest
import sqlglot
from psycopg import sql
from sqlglot import exp

from core.engines import REMOTE_ENGINES
from privacy.tests.builders import busy_subject, holds
from privacy.tests.conftest import read_table
from warehouse.engines.pg_loader import load_lake
from warehouse.lake import contract, erasure, erasure_sql

TOMB = "erased:feedfacefeedfacefeedface"


def literal(statement: erasure_sql.Statement) -> str:
    """The statement with its values inlined as SQL strings (to parse it, not to run it)."""
    return re.sub(
        r"%\((\w+)\)s",
        lambda m: "'" + statement.params[m[1]].replace("'", "''") + "'",
        statement.sql,
    ).replace("%%", "%")


@pytest.mark.parametrize("dialect", REMOTE_ENGINES)
@pytest.mark.parametrize("table", erasure.erasable_tables(), ids=lambda t: t.name)
def test_statements_parse_in_their_dialect(dialect, table):
    ids = ["idn_a'b", "usr_c"]
    update = erasure_sql.update_statement(table, dialect, "analytics", ids, TOMB)
    tree = sqlglot.parse_one(literal(update), read=dialect)
    assert isinstance(tree, exp.Update)
    assert tree.this.name == table.name and tree.this.db == "analytics"
    assigned = {e.this.name for e in tree.expressions}
    assert assigned == set(table.identity_columns) | set(erasure.text_columns(table))
    assert "idn_a''b" in literal(update) and "idn_a" not in update.sql  # values are bound
    count = erasure_sql.count_statement(table, dialect, "analytics", ids)
    assert isinstance(sqlglot.parse_one(literal(count), read=dialect), exp.Select)
    assert set(count.params) <= set(update.params)


def test_physical_followup_names_the_table_per_warehouse():
    table = contract.table("raw_events")
    athena = erasure_sql.physical_followup(table, "athena", "analytics")
    assert [s.split(" -- ")[0] for s in athena] == [
        'OPTIMIZE "analytics"."raw_events" REWRITE DATA USING BIN_PACK',
        'VACUUM "analytics"."raw_events"',
    ]
    assert erasure_sql.physical_followup(table, "redshift", None)[0].startswith(
        'VACUUM DELETE ONLY "raw_events"'
    )


def test_update_on_postgres_erases_exactly_the_rows_holding_the_ids(
    small_lake, warehouse_pg_dsn, warehouse_pg_schema
):
    names = [t.name for t in erasure.erasable_tables()]
    schema = f"{warehouse_pg_schema}_erase"
    load_lake(warehouse_pg_dsn, small_lake, tables=names, schema=schema)
    ids = list(busy_subject(small_lake))
    try:
        with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
            for table in erasure.erasable_tables():
                frame = read_table(small_lake, table.name)
                expected = int(holds(frame, table, ids).sum())
                count = erasure_sql.count_statement(table, "postgres", schema, ids)
                assert conn.execute(count.sql, count.params).fetchone()[0] == expected
                update = erasure_sql.update_statement(table, "postgres", schema, ids, TOMB)
                assert conn.execute(update.sql, update.params).rowcount == expected
                assert conn.execute(count.sql, count.params).fetchone()[0] == 0
                erased = erasure_sql.count_statement(table, "postgres", schema, [TOMB])
                assert conn.execute(erased.sql, erased.params).fetchone()[0] == expected
                total = sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(schema, table.name)
                )
                assert conn.execute(total).fetchone()[0] == len(frame)
    finally:
        with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.mark.parametrize("dialect", REMOTE_ENGINES)
def test_masking_statements_parse_and_bind_the_texts(dialect):
    table = contract.table("raw_events")
    texts = erasure_sql.texts_statement(table, "payload", dialect, "analytics", TOMB)
    assert isinstance(sqlglot.parse_one(literal(texts), read=dialect), exp.Select)
    pairs = [('{"email":"a\'b@x.io"}', '{"email":"***"}'), ('{"ip":"10.0.0.1"}', '{"ip":"***"}')]
    mask = erasure_sql.mask_statement(table, "payload", dialect, "analytics", TOMB, pairs)
    tree = sqlglot.parse_one(literal(mask), read=dialect)
    assert isinstance(tree, exp.Update) and [e.this.name for e in tree.expressions] == ["payload"]
    assert "a@x" not in mask.sql and "a''b@x.io" in literal(mask)  # values are bound
    assert len(list(tree.find(exp.Case).find_all(exp.If))) == 2
    [by_text] = [i for i in tree.find_all(exp.In) if i.this.name == "payload"]
    assert len(by_text.expressions) == 2


def test_one_masked_text_is_set_without_a_case():
    table = contract.table("raw_events")
    mask = erasure_sql.mask_statement(table, "payload", "athena", "analytics", TOMB, [("a", "b")])
    tree = sqlglot.parse_one(literal(mask), read="athena")
    assert tree.find(exp.Case) is None and literal(mask).count("'a'") == 1
