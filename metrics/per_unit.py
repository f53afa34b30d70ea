"""A metric's query split by experiment unit: what an experiment compares per variant.

A ratio metric whose header names an ``experiment_unit`` (the column holding the identity that
experiments assign) can be computed per unit: its final SELECT keeps every filter, aggregate
and its ``dimension_value``, and gains that column as ``unit_id``, so each row is one unit's
numerator and denominator in one period (and one value of the dimension the metric is split
by, if any). The experiments job joins these rows to the units' first exposures
(analytics/experiments/metric_unit_stats.sql). The metric's file stays the one definition:
nothing of it is copied.

Pure: a syntax tree in, a syntax tree out.
"""

from sqlglot import exp

DIMENSION_COLUMN = "dimension_value"
UNIT_COLUMN = "unit_id"


class PerUnitError(ValueError):
    """The query cannot be split by unit; the message says why."""


def per_unit_tree(tree: exp.Expression, unit_column: str) -> exp.Select:
    """``tree`` with ``unit_column`` as UNIT_COLUMN, grouped by period, dimension and unit,
    and no ORDER BY."""
    if not isinstance(tree, exp.Select):
        raise PerUnitError("only a single SELECT can be split by unit (not a UNION)")
    select = tree.copy()
    positions = [i for i, p in enumerate(select.expressions) if p.alias_or_name == DIMENSION_COLUMN]
    if len(positions) != 1:
        raise PerUnitError(f"the final SELECT must return {DIMENSION_COLUMN} once")
    group = select.args.get("group")
    if group is None or len(group.expressions) > 2:
        raise PerUnitError(
            f"the final SELECT must be grouped by period (and {DIMENSION_COLUMN}) only"
        )
    select.set(
        "expressions",
        [*select.expressions, exp.alias_(exp.column(unit_column), UNIT_COLUMN)],
    )
    # Group by position, whatever the original spelled: period, dimension and unit.
    select.set(
        "group",
        exp.Group(
            expressions=[
                exp.Literal.number(1),
                exp.Literal.number(positions[0] + 1),
                exp.Literal.number(len(select.expressions)),
            ]
        ),
    )
    select.set("order", None)
    return select
