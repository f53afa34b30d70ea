"""Rows the portal writes to a table of a SQL warehouse (Athena over Iceberg, Redshift,
PostgreSQL): one day's rows of one key (say an experiment's results of a computation day) are
replaced by a DELETE and one multi-row INSERT, so writing the same day again replaces rather than
duplicates; rows that only add (consent changes) are one INSERT. Pure functions over sqlglot
trees, rendered by warehouse.sql.render; every value is a bound parameter.
"""

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from warehouse.lake.contract import Column, Table
from warehouse.lake.erasure_sql import target
from warehouse.sql import Statement, render


def _day() -> exp.Expression:
    # The day travels as an ISO string, cast in the SQL, as retention's cut-off does.
    return exp.cast(exp.Placeholder(this="day"), "date")


def _day_and_key(table: Table, key: Mapping[str, str]) -> exp.Expression:
    parts: list[exp.Expression] = [
        exp.EQ(this=exp.column(table.partition_column), expression=_day())
    ]
    parts += [
        exp.EQ(this=exp.column(name), expression=exp.Placeholder(this=f"key_{name}"))
        for name in key
    ]
    return exp.and_(*parts)


def _value(column: Column, placeholder: str, dialect: str) -> exp.Expression:
    """The bound value as the column's type: strings as they are, the rest cast (Trino inserts
    nothing it would have to coerce, and a NULL has no type of its own)."""
    value = exp.Placeholder(this=placeholder)
    if column.type == "varchar":
        return value
    # Trino's bare TIMESTAMP has milliseconds; Iceberg keeps microseconds.
    if column.type == "timestamp" and dialect == "athena":
        return exp.cast(value, "timestamp(6)")
    return exp.cast(value, column.type)


def _bound(value: Any) -> str | float | None:
    """Dates and times travel as ISO strings (every driver binds a string the same way); the
    contract's timestamps are UTC without a time zone."""
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def day_replace(
    table: Table,
    dialect: str,
    schema: str | None,
    day: datetime.date,
    key: Mapping[str, str],
    rows: Sequence[Mapping[str, Any]],
) -> tuple[Statement, Statement]:
    """The DELETE of ``day``'s rows holding ``key`` (column: value) and the INSERT of ``rows``
    (every column of the table but the partition column, which is ``day``), in that order."""
    if not table.partition_column:
        raise ValueError(f"{table.name} has no partition column to replace a day of")
    for row in rows:
        # A row outside the key would survive the next replacement: no longer idempotent.
        if any(row.get(name) != value for name, value in key.items()):
            raise ValueError(f"a row of {table.name} does not hold {dict(key)}")
    params: dict[str, str | float | None] = {"day": day.isoformat()}
    params |= {f"key_{name}": value for name, value in key.items()}
    delete = exp.Delete(this=target(table, schema), where=exp.Where(this=_day_and_key(table, key)))
    return render(delete, dialect, params), day_insert(table, dialect, schema, day, rows)


def day_insert(
    table: Table,
    dialect: str,
    schema: str | None,
    day: datetime.date,
    rows: Sequence[Mapping[str, Any]],
) -> Statement:
    """One multi-row INSERT of ``rows`` (every column of the table but the partition column,
    which is ``day``)."""
    if not table.partition_column:
        raise ValueError(f"{table.name} has no partition column to insert a day of")
    if not rows:
        raise ValueError("no rows to insert")
    columns = [c for c in table.columns if c.name != table.partition_column]
    names = {c.name for c in columns}
    params: dict[str, str | float | None] = {"day": day.isoformat()}
    tuples = []
    for i, row in enumerate(rows):
        if set(row) != names:
            raise ValueError(f"a row of {table.name} has the columns {sorted(row)}")
        values = []
        for column in columns:
            params[f"{column.name}_{i}"] = _bound(row[column.name])
            values.append(_value(column, f"{column.name}_{i}", dialect))
        values.append(_day())
        tuples.append(exp.tuple_(*values))
    insert = exp.insert(
        exp.values(tuples),
        target(table, schema),
        columns=[c.name for c in columns] + [table.partition_column],
    )
    return render(insert, dialect, params)
