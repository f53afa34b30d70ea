"""The contract's views (warehouse.lake.contract.VIEWS) as each engine defines them.

A view is canonical (Trino) SQL over contract tables. DuckDB defines it per query over the
Parquet files, PostgreSQL gets it from the loader, Athena and Redshift from the DDL printed by
`manage.py lake_views`. Pure functions: no Django, no I/O.
"""

from collections.abc import Iterable
from functools import cache

from sqlglot import exp

from warehouse.lake import contract
from warehouse.lake.contract import Table
from warehouse.sql import parse, translate


@cache
def bases(view: Table) -> frozenset[str]:
    """The contract tables a view reads."""
    return parse(view.definition).tables


def view_query(view: Table, dialect: str, base_schema: str | None = None) -> str:
    """The view's SELECT in ``dialect``, its tables qualified with ``base_schema`` if given."""
    tree = parse(view.definition).tree
    if base_schema:
        names = bases(view)

        def qualify(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Table) and node.name.lower() in names:
                node = node.copy()
                node.set("db", exp.to_identifier(base_schema))
            return node

        tree = tree.transform(qualify)
    # The definition holds no placeholders and no %, so the text needs no parameters.
    return translate(parse(tree.sql(dialect="trino")), dialect)


def create_view_sql(view: Table, dialect: str, schema: str | None = None) -> str:
    """CREATE OR REPLACE VIEW for ``dialect``, in ``schema`` (with its base tables) if given."""
    name = exp.table_(view.name, db=schema, quoted=True).sql(dialect=dialect)
    return f"CREATE OR REPLACE VIEW {name} AS {view_query(view, dialect, schema)}"


def base_tables(names: Iterable[str]) -> frozenset[str]:
    """The contract tables behind ``names``: a view's name stands for the tables it reads."""
    found: set[str] = set()
    for name in names:
        key = name.lower()
        view = contract.VIEWS.get(key)
        found |= base_tables(bases(view)) if view is not None else {key}
    return frozenset(found)


def views_over(table_name: str) -> list[Table]:
    """The views that read ``table_name``."""
    return [v for v in contract.VIEWS.values() if table_name in bases(v)]
