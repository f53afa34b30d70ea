"""The canonical SQL of experiments (analytics/experiments/*.sql) and the parameters it binds.

Queries that read the experiment's units get exposure_units.sql (every exposed identity and
whether it is a unit) and first_exposures.sql (the units) joined in as common table
expressions, so "who is a unit, in which variant, since when" is written once.
"""

import datetime
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

from experiments.crawlers import CRAWLER_PATTERN
from experiments.outcomes import OUTCOME_DAYS, PRE_PERIOD_DAYS
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
    """The query of file ``name`` with those of ``ctes`` (name -> query, each reading only
    earlier ones) it reads, directly or through another, defined before its own. Unread ones
    are left out: an engine would still load the tables they name."""
    tree = sqlglot.parse_one(sql(name), read=SOURCE_DIALECT)
    own = tree.args.get("with_")
    read = {table.name for table in tree.find_all(exp.Table)}
    needed = []
    for cte, query in reversed(ctes.items()):
        if cte in read:
            needed.insert(0, (cte, query))
            read |= {table.name for table in query.find_all(exp.Table)}
    defined = [
        exp.CTE(this=query, alias=exp.TableAlias(this=exp.to_identifier(cte)))
        for cte, query in needed
    ]
    tree.set("with_", exp.With(expressions=[*defined, *(own.expressions if own else [])]))
    return tree.sql(dialect=SOURCE_DIALECT, pretty=True)


@cache
def _parsed(name: str) -> exp.Expression:
    return sqlglot.parse_one(sql(name), read=SOURCE_DIALECT)


def _units_ctes() -> dict[str, exp.Expression]:
    # In the order they read each other.
    return {
        "exposure_units": _parsed("exposure_units"),
        "first_exposures": _parsed("first_exposures"),
        "unit_segments": _parsed("unit_segments"),
    }


@cache
def units_query(name: str) -> str:
    """Query ``name`` with whichever of exposure_units, first_exposures and unit_segments it
    reads."""
    return with_ctes(name, _units_ctes())


def _unit_params(experiment_key: str, start: datetime.date, end: datetime.date) -> dict:
    return {
        "experiment_key": experiment_key,
        "start": start,
        "end": end,
        "crawler_pattern": CRAWLER_PATTERN,
    }


def exposure_stats(
    experiment_key: str,
    start: datetime.date,
    end: datetime.date,
    outcome_cutoff: datetime.date | None = None,
) -> tuple[str, dict]:
    """Per variant and day: every unit, and the 28-day outcomes of the units whose outcome
    window has ended by ``outcome_cutoff``, the last complete day of data (the window's end
    when not given)."""
    return units_query("exposure_stats"), _outcome_params(
        experiment_key, start, end, outcome_cutoff
    )


def segment_stats(
    experiment_key: str,
    start: datetime.date,
    end: datetime.date,
    outcome_cutoff: datetime.date | None = None,
) -> tuple[str, dict]:
    """Per variant and segment (first-exposure user agent, new or returning visitor, country;
    one grouping each): the statistics of exposure_stats, summed over the days
    (experiments.segments reads them)."""
    return units_query("segment_stats"), _outcome_params(experiment_key, start, end, outcome_cutoff)


def _outcome_params(
    experiment_key: str,
    start: datetime.date,
    end: datetime.date,
    outcome_cutoff: datetime.date | None,
) -> dict:
    matured_through = (outcome_cutoff or end) - datetime.timedelta(days=OUTCOME_DAYS)
    return _unit_params(experiment_key, start, end) | {"matured_through": matured_through}


def exposure_hygiene(
    experiment_key: str, start: datetime.date, end: datetime.date
) -> tuple[str, dict]:
    """One row: the identities exposed in the window, and the crawler and multi-variant ones
    left out of the analysis (experiments.health.ExposureHygiene reads it)."""
    return units_query("exposure_hygiene"), _unit_params(experiment_key, start, end)


def metric_unit_stats(
    metric: Metric,
    experiment_key: str,
    start: datetime.date,
    end: datetime.date,
    split_by: str | None = None,
) -> tuple[str, dict]:
    """Sums of the metric's per-unit numerator and denominator, after first exposure and in
    the 28 days before it (ratio statistics with their CUPED covariate), per variant and day,
    segment, and value of the dimension `split_by` (one of the metric's; none: 'all').

    The metric runs unfiltered (every dimension filter keeps every value) from 28 days before
    the experiment's window to its end: its :start becomes :metric_start, since the units'
    :start is the window's own."""
    if metric.experiment_unit is None:
        raise ValueError(f"metric {metric.slug} names no experiment_unit")
    per_unit = per_unit_tree(
        sqlglot.parse_one(metric.sql, read=SOURCE_DIALECT), metric.experiment_unit
    ).transform(_metric_start)
    text = with_ctes("metric_unit_stats", {**_units_ctes(), "metric_rows": per_unit})
    metric_start = start - datetime.timedelta(days=PRE_PERIOD_DAYS)
    window = MetricParams(start=metric_start, end=end, grain=METRIC_GRAIN, split_by=split_by).bind(
        metric
    )
    window["metric_start"] = window.pop("start")
    return text, params_used(text, {**window, **_unit_params(experiment_key, start, end)})


def _metric_start(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Placeholder) and node.name == "start":
        return exp.Placeholder(this="metric_start")
    return node


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
    return with_ctes("baseline", {"exposure_units": _parsed("exposure_units")}), params
