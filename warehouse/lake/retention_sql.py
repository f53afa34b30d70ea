"""Retention on a SQL warehouse (Athena over Iceberg, Redshift, PostgreSQL): the COUNT that says
what is past a table's cut-off, the DELETE that removes it, and what remains to be done
physically afterwards. Pure functions over sqlglot trees, rendered by warehouse.sql.render; the
cut-off is always a bound parameter.
"""

from dataclasses import dataclass
from datetime import date

from sqlglot import exp

from warehouse.lake.contract import Table
from warehouse.lake.erasure_sql import target
from warehouse.sql import Statement, render


@dataclass(frozen=True)
class ExpiredRows:
    """Rows of a remote warehouse's table past its retention (counted before any DELETE)."""

    engine: str
    table: str
    layer: str
    rows: int
    months: int
    cutoff: date
    followup: tuple[str, ...]


def _expired(table: Table) -> exp.Expression:
    # The cut-off travels as an ISO string, cast in the SQL: every driver binds a string the same
    # way, and Trino would not compare a date with a varchar.
    day = exp.cast(exp.Placeholder(this="cutoff"), "date")
    return exp.LT(this=exp.column(table.partition_column), expression=day)


def count_statement(table: Table, dialect: str, schema: str | None, cutoff: date) -> Statement:
    """The number of rows whose partition is before ``cutoff``."""
    tree = (
        exp.select(exp.Count(this=exp.Star()).as_("expired"))
        .from_(target(table, schema))
        .where(_expired(table))
    )
    return render(tree, dialect, {"cutoff": cutoff.isoformat()})


def delete_statement(table: Table, dialect: str, schema: str | None, cutoff: date) -> Statement:
    """DELETE of the rows whose partition is before ``cutoff``; younger rows are not touched."""
    tree = exp.Delete(this=target(table, schema), where=exp.Where(this=_expired(table)))
    return render(tree, dialect, {"cutoff": cutoff.isoformat()})


def physical_followup(table: Table, dialect: str, schema: str | None) -> list[str]:
    """What still holds the deleted rows after the DELETE, and the statement that removes it."""
    name = target(table, schema).sql(dialect=dialect)
    if dialect == "athena":
        return [
            f"OPTIMIZE {name} REWRITE DATA USING BIN_PACK -- rewrite the data files the DELETE "
            "marked with delete files (a DELETE of whole partitions leaves none)",
            f"VACUUM {name} -- expire snapshots older than the table's "
            "vacuum_max_snapshot_age_seconds and remove their files; until then time travel "
            "still returns the deleted rows",
        ]
    if dialect == "redshift":
        return [
            f"VACUUM DELETE ONLY {name} -- reclaim the deleted rows; automated and manual "
            "snapshots keep them until they expire",
        ]
    return [f"VACUUM {name} -- reclaim the dead row versions of the deleted rows"]
