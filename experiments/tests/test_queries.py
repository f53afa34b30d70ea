"""The canonical SQL of experiments gives the same numbers on DuckDB and PostgreSQL."""

import datetime

import pandas as pd
import pytest

from experiments import queries
from experiments.tests.builders import BOT_UA, exposures, write_exposures
from metrics.catalogue import load_catalogue
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.pg_loader import load_lake
from warehouse.engines.postgres import PostgresEngine

START, END = datetime.date(2026, 1, 18), datetime.date(2026, 1, 31)


@pytest.fixture
def engines(small_lake, warehouse_pg_dsn, pg_schema):
    tables = ["fact_experiment_exposures", "fact_funnel_events", "fact_bookings", "dim_identities"]
    load_lake(warehouse_pg_dsn, small_lake, tables=tables, schema=pg_schema)
    return (
        DuckDBEngine(small_lake, threads=2, memory_limit="1GB", timeout_s=60),
        PostgresEngine(warehouse_pg_dsn, timeout_s=60, schema=pg_schema),
    )


def same(frames):
    """Equal rows, in any order: sorted by every column that is not a number (the first two
    when all are)."""
    keys = [c for c in frames[0].columns if frames[0][c].dtype.kind not in "biuf"]
    keys = keys or list(frames[0].columns[:2])
    duck, pg = (f.sort_values(keys).reset_index(drop=True) for f in frames)
    assert list(duck.columns) == list(pg.columns)
    assert len(duck) == len(pg) > 0
    for column in duck.columns:
        if duck[column].dtype.kind == "f" or pg[column].dtype.kind == "f":
            assert duck[column].astype(float).tolist() == pytest.approx(
                pg[column].astype(float).tolist(), rel=1e-9
            )
        else:
            assert duck[column].astype(str).tolist() == pg[column].astype(str).tolist()


@pytest.mark.parametrize("key", ["search_ranking_v2", "pricing_page_3way"])
def test_exposure_stats_agree(engines, key):
    # A cut-off 28 days after the 25th: some days' units have matured, the later ones not.
    sql, params = queries.exposure_stats(key, START, END, datetime.date(2026, 2, 22))
    frames = [engine.run(sql, params).frame for engine in engines]
    same(frames)
    matured = frames[0].matured_units > 0
    assert matured.any() and not matured.all()


@pytest.mark.parametrize("key", ["search_ranking_v2", "pricing_page_3way"])
def test_segment_stats_agree(engines, key):
    sql, params = queries.segment_stats(key, START, END, datetime.date(2026, 2, 22))
    frames = [engine.run(sql, params).frame for engine in engines]
    same(frames)
    rows = frames[0]
    # Both kinds of visitor, several agents and countries: the join and the groupings are
    # exercised, and each grouping counts every unit once.
    segments = rows.groupby("grouped_by").segment.unique()
    assert set(segments["visitor"]) == {"new", "returning"}
    assert len(segments["platform"]) > 2 and len(segments["country"]) > 2
    units = rows.groupby("grouped_by").units.sum()
    assert units["platform"] == units["visitor"] == units["country"]


@pytest.mark.parametrize("key", ["search_ranking_v2", "pricing_page_3way"])
def test_exposure_hygiene_agrees(engines, key):
    sql, params = queries.exposure_hygiene(key, START, END)
    same([engine.run(sql, params).frame for engine in engines])


@pytest.mark.parametrize(
    ("key", "slug", "searched_before"),
    [
        ("search_ranking_v2", "search_to_view_ctr", True),
        # The lake's bookings reach back before its events; its events start with exposure.
        ("checkout_button_color", "refund_rate", True),
        ("checkout_button_color", "checkout_completion_rate", False),
    ],
)
def test_metric_unit_stats_agree(engines, key, slug, searched_before):
    metric = load_catalogue().get(slug)
    sql, params = queries.metric_unit_stats(metric, key, START, END)
    frames = [engine.run(sql, params).frame for engine in engines]
    same(frames)
    rows = frames[0]
    groupings = {"day", "platform", "visitor", "country"}
    assert set(rows.grouped_by) == groupings | {"dimension"}
    # Every grouping of the units counts every unit once; the metric unsplit is one value,
    # 'all', with the units that have rows; the pre-period is read.
    units = rows.groupby("grouped_by").units.sum()
    assert {units[grouping] for grouping in groupings} == {units["day"]}
    assert set(rows[rows.grouped_by == "dimension"].segment) == {"all"}
    assert 0 < units["dimension"] <= units["day"]
    assert bool(rows.pre_denominator_sum.sum() > 0) == searched_before


def test_metric_unit_stats_split_by_the_metrics_dimension(engines):
    metric = load_catalogue().get("refund_rate")
    whole = queries.metric_unit_stats(metric, "checkout_button_color", START, END)
    split = queries.metric_unit_stats(
        metric, "checkout_button_color", START, END, split_by="listing_kind"
    )
    frames = [engine.run(*split).frame for engine in engines]
    same(frames)
    rows, unsplit = frames[0], engines[0].run(*whole).frame
    by_value = rows[rows.grouped_by == "dimension"]
    assert by_value.segment.nunique() > 1
    # The values add up to the whole; each counts the units with rows of it.
    units = unsplit[unsplit.grouped_by == "day"].groupby("variant").units.sum()
    for value, group in by_value.groupby("segment"):
        for variant, n in group.set_index("variant").units.items():
            assert 0 < n <= units[variant], (value, variant)
    sums = by_value.groupby("variant")[["numerator_sum", "denominator_sum"]].sum()
    days = unsplit[unsplit.grouped_by == "day"].groupby("variant")
    assert sums.numerator_sum.tolist() == pytest.approx(days.numerator_sum.sum().tolist())
    assert sums.denominator_sum.tolist() == pytest.approx(days.denominator_sum.sum().tolist())
    # The day and segment rows do not depend on the split.
    same([rows[rows.grouped_by != "dimension"], unsplit[unsplit.grouped_by != "dimension"]])


def test_baseline_agrees(engines):
    sql, params = queries.baseline(START, END)
    same([engine.run(sql, params).frame for engine in engines])


def test_first_exposures_of_people_only(empty_lake):
    day = datetime.date(2026, 1, 20)
    people = exposures("exp_q", {"control": 30, "treatment": 20}, day=day)
    # Ten control units exposed again the next day: five under treatment, five under control.
    later = people.head(10).assign(
        variant=["treatment"] * 5 + ["control"] * 5,
        event_dt=day + datetime.timedelta(days=1),
        exposure_ts=people.head(10).exposure_ts + pd.Timedelta(days=1),
        outcome_value=1_000.0,
    )
    bots = exposures("exp_q", {"control": 7}, day=day, first_id=500).assign(user_agent=BOT_UA)
    anonymous = exposures("exp_q", {"treatment": 3}, day=day, first_id=900).assign(user_agent=None)
    outside = exposures(
        "exp_q", {"control": 4}, day=day - datetime.timedelta(days=30), first_id=950
    )
    other = exposures("exp_other", {"control": 6}, day=day, first_id=990)
    write_exposures(empty_lake, pd.concat([people, later, bots, anonymous, outside, other]))
    # Every unit's 28 days have passed by the cut-off.
    sql, params = queries.exposure_stats("exp_q", START, END, day + datetime.timedelta(days=29))
    frame = (
        DuckDBEngine(empty_lake, threads=2, memory_limit="1GB", timeout_s=60).run(sql, params).frame
    )
    units = frame.groupby("variant").units.sum().to_dict()
    # Units exposed again under another variant are out, those exposed again under theirs keep
    # their first exposure; crawlers, other windows and experiments are out; an exposure
    # without a user agent is a person's.
    assert units == {"control": 25, "treatment": 23}
    expected = people[people.variant == "control"].iloc[5:].outcome_value.sum()
    assert frame[frame.variant == "control"].value_sum.sum() == pytest.approx(expected)
