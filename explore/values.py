"""The values of a metric's dimension in a window, with how many rows of the metric's own data
hold each: what the value pickers of the explore view offer.

Derived from the metric's query, never written apart from it: the SELECT that computes the
metric's ``dimension_value`` (the ``CASE :split_by ...`` over the rows it reads) keeps its FROM,
joins, WHERE and the query's CTEs, and returns the dimension's column and a row count instead.
The dimension is one the metric declares; it picks a branch of that CASE, so nothing of the
request is written into the SQL (the window stays bound: :start, :end).

Pure: text in, text out.
"""

from sqlglot import exp

from metrics.definitions import SPLIT_PARAM
from warehouse.sql import SOURCE_DIALECT, parse

DIMENSION_COLUMN = "dimension_value"


class ValuesQueryError(ValueError):
    """The metric's query does not split by the dimension the way the SQL contract says."""


def values_sql(metric_sql: str, dimension: str) -> str:
    """A query returning ``value`` and ``items`` (rows of the metric's data with that value, in
    the window), largest first. Nulls are left out: a filter can never select them."""
    tree = parse(metric_sql).tree.copy()
    select, column = _splitting_select(tree, dimension)
    query = select.copy()
    query.set("expressions", [exp.alias_(column.copy(), "value"), _count_rows()])
    query.set("group", exp.Group(expressions=[exp.Literal.number(1)]))
    query.set("having", None)
    query.set("distinct", None)
    query.set("order", None)
    query.set("with_", _used_ctes(tree.args.get("with_"), query))
    query = query.where(exp.Not(this=exp.Is(this=column.copy(), expression=exp.Null())))
    query = query.order_by(exp.Ordered(this=exp.column("items"), desc=True), exp.column("value"))
    return query.sql(dialect=SOURCE_DIALECT, pretty=True)


def _used_ctes(with_: exp.With | None, query: exp.Select) -> exp.With | None:
    """The CTEs ``query`` reads, directly or through another: the metric's later steps (its
    ranking, its final aggregate) are left out with their parameters."""
    if with_ is None:
        return None
    ctes = {cte.alias_or_name: cte for cte in with_.expressions}
    needed: set[str] = set()
    pending = [query]
    while pending:
        node = pending.pop()
        for table in node.find_all(exp.Table):
            if table.name in ctes and table.name not in needed:
                needed.add(table.name)
                pending.append(ctes[table.name].this)
    kept = [cte for name, cte in ctes.items() if name in needed]
    return exp.With(expressions=kept) if kept else None


def _count_rows() -> exp.Expression:
    # BIGINT on every engine, as the SQL contract casts its sums.
    rows = exp.Cast(this=exp.Count(this=exp.Star()), to=exp.DataType.build("BIGINT"))
    return exp.alias_(rows, "items")


def _splitting_select(tree: exp.Expression, dimension: str) -> tuple[exp.Select, exp.Expression]:
    """The first SELECT whose ``dimension_value`` is the CASE over :split_by, and the
    expression of that CASE's branch for ``dimension`` without its ``coalesce(..., 'unknown')``."""
    for select in tree.find_all(exp.Select):
        for projection in select.expressions:
            if projection.alias_or_name != DIMENSION_COLUMN:
                continue
            case = projection.unalias()
            if not isinstance(case, exp.Case) or not _is_split_param(case.this):
                continue
            for branch in case.args.get("ifs") or []:
                if isinstance(branch.this, exp.Literal) and branch.this.this == dimension:
                    value = branch.args["true"]
                    if isinstance(value, exp.Coalesce):
                        value = value.this
                    return select, value
    raise ValuesQueryError(f"the query does not split by {dimension!r} (CASE :{SPLIT_PARAM})")


def _is_split_param(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Placeholder) and node.name == SPLIT_PARAM
