"""DSAR erasure on a SQL warehouse (Athena over Iceberg, Redshift, PostgreSQL): the UPDATE that
replaces the ids by the tombstone, the count that verifies it, and what remains to be done
physically afterwards. Pure functions over sqlglot trees; values are always bound parameters.
"""

from collections.abc import Sequence

from sqlglot import exp

from warehouse.lake import contract
from warehouse.lake.contract import Table
from warehouse.lake.erasure import LINK_TABLE, text_columns
from warehouse.sql import Statement, render


def _params(ids: Sequence[str], tombstone: str | None) -> dict[str, str]:
    params = {f"id{i}": v for i, v in enumerate(ids)}
    params |= {f"quoted{i}": f'"{v}"' for i, v in enumerate(ids)}
    if tombstone is not None:
        params |= {"tombstone": tombstone, "quoted_tombstone": f'"{tombstone}"'}
    return params


def _holds_ids(table: Table, count: int) -> exp.Expression:
    """Rows holding one of the ids (placeholders id0…) in an id column: the subject's own."""
    ids = [exp.Placeholder(this=f"id{i}") for i in range(count)]
    return exp.or_(
        *(exp.In(this=exp.column(column), expressions=ids) for column in table.identity_columns)
    )


def _quotes_ids(table: Table, count: int) -> exp.Expression | None:
    """Rows whose free text quotes one of the ids (placeholders quoted0…); None without text."""
    # strpos rather than LIKE: an id is data, never a pattern.
    parts = [
        exp.GT(
            this=exp.Anonymous(
                this="strpos",
                expressions=[exp.column(column), exp.Placeholder(this=f"quoted{i}")],
            ),
            expression=exp.Literal.number(0),
        )
        for column in text_columns(table)
        for i in range(count)
    ]
    return exp.or_(*parts) if parts else None


def target(table: Table, schema: str | None) -> exp.Table:
    """The table, qualified by its schema unless the warehouse finds it on its search path."""
    return exp.table_(table.name, db=schema, quoted=True)


def update_statement(
    table: Table, dialect: str, schema: str, ids: Sequence[str], tombstone: str
) -> Statement:
    """UPDATE that replaces ``ids`` by ``tombstone`` in every id column (and inside the JSON
    text columns) of the rows holding them in an id column; other rows are not touched, whatever
    their text says."""
    tomb = exp.Placeholder(this="tombstone")
    assignments = []
    for column in table.identity_columns:
        ids_here = [exp.Placeholder(this=f"id{i}") for i in range(len(ids))]
        value = (
            exp.Case()
            .when(exp.In(this=exp.column(column), expressions=ids_here), tomb)
            .else_(exp.column(column))
        )
        assignments.append(exp.EQ(this=exp.column(column), expression=value))
    for column in text_columns(table):
        value: exp.Expression = exp.column(column)
        for i in range(len(ids)):
            value = exp.Anonymous(
                this="replace",
                expressions=[
                    value,
                    exp.Placeholder(this=f"quoted{i}"),
                    exp.Placeholder(this="quoted_tombstone"),
                ],
            )
        assignments.append(exp.EQ(this=exp.column(column), expression=value))
    tree = exp.Update(
        this=target(table, schema),
        expressions=assignments,
        where=exp.Where(this=_holds_ids(table, len(ids))),
    )
    return render(tree, dialect, _params(ids, tombstone))


def texts_statement(
    table: Table, column: str, dialect: str, schema: str, tombstone: str
) -> Statement:
    """The distinct values of free-text ``column`` in the rows holding ``tombstone`` in an id
    column (the erased subject's own rows), to be masked."""
    tree = (
        exp.select(exp.column(column))
        .distinct()
        .from_(target(table, schema))
        .where(exp.and_(_holds_ids(table, 1), exp.column(column).is_(exp.null()).not_()))
    )
    return render(tree, dialect, _params([tombstone], None))


def mask_statement(
    table: Table,
    column: str,
    dialect: str,
    schema: str,
    tombstone: str,
    masked: Sequence[tuple[str, str]],
) -> Statement:
    """UPDATE that sets free-text ``column`` of the rows holding ``tombstone`` in an id column
    from each (original, masked) pair; rows of other people are not touched, whatever their
    text. One pair needs no CASE (a payload near the statement size limit is sent twice, not
    three times)."""
    params: dict[str, str] = _params([tombstone], None)
    for i, (original, replacement) in enumerate(masked):
        params |= {f"text{i}": original, f"masked{i}": replacement}
    originals = [exp.Placeholder(this=f"text{i}") for i in range(len(masked))]
    value: exp.Expression = exp.Placeholder(this="masked0")
    if len(masked) > 1:
        case = exp.Case(this=exp.column(column))
        for i in range(len(masked)):
            case = case.when(originals[i], exp.Placeholder(this=f"masked{i}"))
        value = case.else_(exp.column(column))
    tree = exp.Update(
        this=target(table, schema),
        expressions=[exp.EQ(this=exp.column(column), expression=value)],
        where=exp.Where(
            this=exp.and_(
                _holds_ids(table, 1),
                exp.In(this=exp.column(column), expressions=originals),
            )
        ),
    )
    return render(tree, dialect, params)


def count_statement(
    table: Table, dialect: str, schema: str, ids: Sequence[str], tombstone: str | None = None
) -> Statement:
    """The number of rows holding ``ids`` in an id column and, with ``tombstone``, of the rows
    holding it whose free text still quotes one of ``ids`` (zero once the erasure is done).
    Rows of other people that mention an id in their text are theirs: not counted."""
    holds = _holds_ids(table, len(ids))
    quotes = _quotes_ids(table, len(ids))
    if tombstone is not None and quotes is not None:
        erased = exp.or_(
            *(
                exp.EQ(this=exp.column(column), expression=exp.Placeholder(this="tombstone"))
                for column in table.identity_columns
            )
        )
        holds = exp.or_(holds, exp.and_(exp.paren(erased), exp.paren(quotes)))
    tree = (
        exp.select(exp.Count(this=exp.Star()).as_("remaining"))
        .from_(target(table, schema))
        .where(holds)
    )
    return render(tree, dialect, _params(ids, tombstone))


def select_statement(table: Table, dialect: str, schema: str, ids: Sequence[str]) -> Statement:
    """Every column of the rows holding ``ids`` in an id column: what an access request
    exports from the warehouse."""
    tree = (
        exp.select(*(exp.column(c) for c in table.column_names))
        .from_(target(table, schema))
        .where(_holds_ids(table, len(ids)))
    )
    return render(tree, dialect, _params(ids, None))


def linked_statement(dialect: str, schema: str, ids: Sequence[str]) -> Statement:
    """The ids the link table (erasure.LINK_TABLE) links to ``ids`` in one step, as one column
    (``ids`` themselves among them)."""
    table = contract.table(LINK_TABLE)
    links = _holds_ids(table, len(ids))
    tree = exp.union(
        exp.select("identity_id").from_(target(table, schema)).where(links),
        exp.select("user_id").from_(target(table, schema)).where(links.copy()),
    )
    return render(tree, dialect, _params(ids, None))


def physical_followup(table: Table, dialect: str, schema: str) -> list[str]:
    """What still holds the old values after the UPDATE, and the statement that removes it."""
    name = target(table, schema).sql(dialect=dialect)
    if dialect == "athena":
        return [
            f"OPTIMIZE {name} REWRITE DATA USING BIN_PACK -- rewrite the data files the UPDATE "
            "marked with delete files",
            f"VACUUM {name} -- expire old snapshots and remove their files; until then time "
            "travel still returns the old ids",
        ]
    if dialect == "redshift":
        return [
            f"VACUUM DELETE ONLY {name} -- reclaim the old row versions; automated and manual "
            "snapshots keep them until they expire",
        ]
    return [f"VACUUM {name} -- reclaim the dead row versions that still hold the old ids"]
