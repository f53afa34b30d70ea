"""A metric split by experiment unit keeps the metric's definition: summed over units, the
per-unit rows give back the metric's own numbers, day by day."""

from datetime import date
from pathlib import Path

import pytest
from sqlglot import exp

from metrics.catalogue import load_catalogue
from metrics.definitions import parse_definition
from metrics.params import MetricParams
from metrics.per_unit import PerUnitError, per_unit_tree
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.sql import SOURCE_DIALECT, params_used, parse

START, END = date(2026, 1, 18), date(2026, 1, 31)
SPLITTABLE = [m for m in load_catalogue().metrics.values() if m.experiment_unit]


def test_the_experiment_metrics_of_the_catalogue():
    assert {m.slug for m in SPLITTABLE} >= {
        "search_to_view_ctr",
        "view_to_message_rate",
        "checkout_completion_rate",
        "refund_rate",
        "email_digest_ctr",
    }
    assert all(m.is_ratio for m in SPLITTABLE)


@pytest.mark.parametrize("metric", SPLITTABLE, ids=lambda m: m.slug)
def test_units_add_up_to_the_metric(small_lake, metric):
    engine = DuckDBEngine(small_lake, threads=2, memory_limit="1GB", timeout_s=60)
    values = MetricParams(start=START, end=END, grain="day").bind(metric)
    whole = engine.run(metric.sql, values).frame.set_index("period")
    per_unit = per_unit_tree(parse(metric.sql).tree, metric.experiment_unit)
    sql = per_unit.sql(dialect=SOURCE_DIALECT)
    units = engine.run(sql, params_used(sql, values)).frame
    assert units.unit_id.notna().sum() > 0
    assert set(units.dimension_value) == {"all"}  # not split by a dimension
    assert units.groupby(["period", "unit_id"], dropna=False).size().max() == 1
    summed = units.groupby("period")[["numerator", "denominator"]].sum()
    assert summed.index.tolist() == whole.index.tolist()
    assert summed.numerator.tolist() == whole.numerator.tolist()
    assert summed.denominator.tolist() == whole.denominator.tolist()


def test_only_a_grouped_single_select_splits():
    union = parse("SELECT 1 AS period, 'a' AS dimension_value UNION ALL SELECT 2, 'b'").tree
    with pytest.raises(PerUnitError, match="single SELECT"):
        per_unit_tree(union, "identity_id")
    ungrouped = parse("SELECT event_dt AS period, 'all' AS dimension_value FROM t").tree
    with pytest.raises(PerUnitError, match="grouped"):
        per_unit_tree(ungrouped, "identity_id")


def test_the_split_adds_only_the_unit():
    metric = load_catalogue().get("refund_rate")
    original = parse(metric.sql).tree
    tree = per_unit_tree(original, "identity_id")
    unit = next(p for p in tree.expressions if p.alias == "unit_id")
    assert unit.this == exp.column("identity_id")
    assert tree.expressions[:-1] == original.expressions
    assert tree.args.get("order") is None
    assert tree.args["where"] == original.args["where"]


@pytest.mark.parametrize("metric", [m for m in SPLITTABLE if m.dimensions], ids=lambda m: m.slug)
def test_units_split_by_a_dimension_add_up_to_the_metric_split_so(small_lake, metric):
    engine = DuckDBEngine(small_lake, threads=2, memory_limit="1GB", timeout_s=60)
    dimension = metric.dimensions[0]
    values = MetricParams(start=START, end=END, grain="day", split_by=dimension).bind(metric)
    keys = ["period", "dimension_value"]
    whole = engine.run(metric.sql, values).frame.set_index(keys).sort_index()
    per_unit = per_unit_tree(parse(metric.sql).tree, metric.experiment_unit)
    sql = per_unit.sql(dialect=SOURCE_DIALECT)
    units = engine.run(sql, params_used(sql, values)).frame
    assert units.dimension_value.nunique() > 1  # split by the dimension
    summed = units.groupby(keys)[["numerator", "denominator"]].sum().sort_index()
    assert summed.index.tolist() == whole.index.tolist()
    assert summed.numerator.tolist() == whole.numerator.tolist()
    assert summed.denominator.tolist() == whole.denominator.tolist()


def test_header_errors_name_the_field():
    path = Path("analytics/metrics/refund_rate.sql")
    text = path.read_text()
    template = path.with_name("booking_flag_rate.sql.tmpl")
    wrong_column = parse_definition(
        path,
        text.replace("experiment_unit: identity_id", "experiment_unit: booker"),
        templates={template.name: template.read_text()},
    )
    assert any(
        "experiment_unit: booker cannot be read by the final SELECT" in e
        for e in wrong_column.errors
    )
    counts = Path("analytics/metrics/sla_breach_count.sql")
    header = "-- experiment_unit: identity_id\n-- history:"
    not_ratio = parse_definition(counts, counts.read_text().replace("-- history:", header, 1))
    assert any("only ratio metrics" in e for e in not_ratio.errors)
