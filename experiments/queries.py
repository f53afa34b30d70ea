"""The canonical SQL of experiments (analytics/experiments/*.sql) and the parameters it binds.

Queries that read the experiment's units get first_exposures.sql joined in as a common table
expression, so "who is a unit, in which variant, since when" is written once.
"""

import datetime
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

from experiments.crawlers import CRAWLER_PATTERN
from metrics.definitions import Metric
from metrics.params import MetricParams
from metrics.per_unit import per_unit_tree
from portal.roles import Access
from warehouse.sql import SOURCE_DIALECT, params_used

SQL_DIR = Path(__file__).resolve().parent.parent / "analytics" / "experiments"
# Experiments read general tables only; jobs run with this scope, people with their own.
JOB_SCOPE = frozenset({Access.GENERAL})
# A catalogue metric per unit is read day by day, so that a unit's rows can start at the day
# of its first exposure.
METRIC_GRAIN = "day"


@cache
def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def with_ctes(name: str, ctes: dict[str, exp.Expression]) -> str:
    """The query of file ``name`` with ``ctes`` (name -> query) defined before its own."""
    tree = sqlglot.parse_one(sql(name), read=SOURCE_DIALECT)
    own = tree.args.get("with_")
    defined = [
        exp.CTE(this=query, alias=exp.TableAlias(this=exp.to_identifier(cte)))
        for cte, query in ctes.items()
    ]
    tree.set("with_", exp.With(expressions=[*defined, *(own.expressions if own else [])]))
    return tree.sql(dialect=SOURCE_DIALECT, pretty=True)


@cache
def _first_exposures() -> exp.Expression:
    return sqlglot.parse_one(sql("first_exposures"), read=SOURCE_DIALECT)


@cache
def units_query(name: str) -> str:
    """Query ``name`` reading first_exposures."""
    return with_ctes(name, {"first_exposures": _first_exposures()})


def _unit_params(experiment_key: str, start: datetime.date, end: datetime.date) -> dict:
    return {
        "experiment_key": experiment_key,
        "start": start,
        "end": end,
        "crawler_pattern": CRAWLER_PATTERN,
    }


def exposure_stats(
    experiment_key: str, start: datetime.date, end: datetime.date
) -> tuple[str, dict]:
    return units_query("exposure_stats"), _unit_params(experiment_key, start, end)


def metric_unit_stats(
    metric: Metric, experiment_key: str, start: datetime.date, end: datetime.date
) -> tuple[str, dict]:
    """Per-variant sums of the metric's per-unit numerator and denominator (ratio statistics).

    The metric runs unsplit and unfiltered (every dimension filter keeps every value) over the
    experiment's window."""
    if metric.experiment_unit is None:
        raise ValueError(f"metric {metric.slug} names no experiment_unit")
    per_unit = per_unit_tree(
        sqlglot.parse_one(metric.sql, read=SOURCE_DIALECT), metric.experiment_unit
    )
    text = with_ctes(
        "metric_unit_stats", {"first_exposures": _first_exposures(), "metric_rows": per_unit}
    )
    window = MetricParams(start=start, end=end, grain=METRIC_GRAIN).bind(metric)
    # Splitting by unit drops the metric's :split_by.
    return text, params_used(text, {**window, **_unit_params(experiment_key, start, end)})


def baseline(
    start: datetime.date, end: datetime.date, experiment_key: str = "", control: str = "control"
) -> tuple[str, dict]:
    params = {
        "experiment_key": experiment_key,
        "control_variant": control,
        "start": start,
        "end": end,
        "crawler_pattern": CRAWLER_PATTERN,
    }
    return sql("baseline"), params
