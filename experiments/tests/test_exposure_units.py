"""Who is a unit of the analysis, on DuckDB and PostgreSQL, against pandas over the same rows:
crawlers (also a crawler followed by a person on one identity), units exposed to more than one
variant (also at a tie of timestamps), and the 28-day outcome windows."""

import datetime

import crawleruseragents
import numpy as np
import pandas as pd
import pytest

from experiments import queries
from experiments.tests.builders import BOT_UA, HUMAN_UA, exposures, write_exposures
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.pg_loader import load_lake
from warehouse.engines.postgres import PostgresEngine

KEY = "exp_h"
D1, D2 = datetime.date(2026, 1, 10), datetime.date(2026, 1, 11)
START, END = datetime.date(2026, 1, 5), datetime.date(2026, 1, 20)
# The 28 days after an exposure on D1 have all passed by the end of D1 + 28; D2's have not.
CUTOFF = D1 + datetime.timedelta(days=28)


def again(rows: pd.DataFrame, *, variant, days: int = 0, seconds: int = 0, **values):
    """The same identities exposed once more, ``days`` and ``seconds`` later."""
    shift = pd.Timedelta(days=days, seconds=seconds)
    return rows.assign(
        variant=variant,
        exposure_ts=rows.exposure_ts + shift,
        event_dt=[d + datetime.timedelta(days=days) for d in rows.event_dt],
        **values,
    )


@pytest.fixture
def planted():
    first = exposures(KEY, {"control": 40, "treatment": 30}, day=D1, seed=1)
    second = exposures(KEY, {"control": 20, "treatment": 25}, day=D2, seed=2, first_id=100)
    tie = exposures(KEY, {"control": 3}, day=D1, seed=3, first_id=200)
    switched = exposures(KEY, {"treatment": 4}, day=D1, seed=4, first_id=300)
    repeated = first[first.variant == "treatment"].head(5)
    crawler_first = exposures(KEY, {"control": 2}, day=D1, seed=5, first_id=400)
    person_first = exposures(KEY, {"treatment": 2}, day=D1, seed=6, first_id=500)
    bots = exposures(KEY, {"control": 6}, day=D2, seed=7, first_id=600)
    rows = pd.concat(
        [
            first,
            second,
            # Two variants at the very same instant: neither may win.
            tie,
            again(tie, variant="treatment"),
            # Treatment first, control a day later.
            switched,
            again(switched, variant="control", days=1),
            # The same variant again, with other values: the first exposure's count.
            again(repeated, variant="treatment", days=1, outcome_value=1_000.0),
            # A crawler's exposure, then a person's on the same identity (and the reverse).
            crawler_first.assign(user_agent=BOT_UA),
            again(crawler_first, variant="treatment", seconds=60, user_agent=HUMAN_UA),
            person_first,
            again(person_first, variant="control", days=1, user_agent=BOT_UA),
            bots.assign(user_agent=BOT_UA),
            # Anonymous exposures and another experiment are no one's unit here.
            exposures(KEY, {"control": 3}, day=D1, first_id=700).assign(identity_id=None),
            exposures("exp_other", {"treatment": 5}, day=D1, first_id=800),
        ],
        ignore_index=True,
    )
    return rows


def reference(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The documented rule in pandas: the units (one row each, at the first exposure) and the
    hygiene counts."""
    frame = rows[(rows.experiment_key == KEY) & rows.identity_id.notna()].copy()
    frame["bot"] = [crawleruseragents.is_crawler(ua or "") for ua in frame.user_agent]
    per = frame.groupby("identity_id").agg(
        bot=("bot", "any"), person=("bot", lambda b: (~b).any()), variants=("variant", "nunique")
    )
    firsts = (
        frame.sort_values("exposure_ts").groupby("identity_id").head(1).set_index("identity_id")
    )
    kept = per.index[~per.bot & (per.variants == 1)]
    hygiene = {
        "identities": len(per),
        "units": len(kept),
        "crawler_units": int(per.bot.sum()),
        "crawler_and_person_units": int((per.bot & per.person).sum()),
        "multi_variant_units": int((~per.bot & (per.variants > 1)).sum()),
    }
    return firsts.loc[kept].reset_index(), hygiene


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request, planted, empty_lake):
    write_exposures(empty_lake, planted)
    if request.param == "duckdb":
        return DuckDBEngine(empty_lake, threads=2, memory_limit="1GB", timeout_s=60)
    dsn, schema = (request.getfixturevalue(f) for f in ("warehouse_pg_dsn", "pg_schema"))
    load_lake(dsn, empty_lake, tables=["fact_experiment_exposures"], schema=schema)
    return PostgresEngine(dsn, timeout_s=60, schema=schema)


def test_the_planted_cases_are_what_they_say(planted):
    units, hygiene = reference(planted)
    assert hygiene == {
        "identities": 70 + 45 + 3 + 4 + 2 + 2 + 6,
        "units": 115,
        "crawler_units": 10,
        "crawler_and_person_units": 4,
        "multi_variant_units": 7,
    }
    assert units.groupby("variant").size().to_dict() == {"control": 60, "treatment": 55}


def test_hygiene_counts_who_is_left_out(engine, planted):
    sql, params = queries.exposure_hygiene(KEY, START, END)
    (row,) = engine.run(sql, params).frame.to_dict("records")
    assert {k: int(v) for k, v in row.items()} == reference(planted)[1]


def test_units_are_people_of_one_variant_at_their_first_exposure(engine, planted):
    units, _ = reference(planted)
    sql, params = queries.exposure_stats(KEY, START, END, CUTOFF)
    frame = engine.run(sql, params).frame
    frame["event_dt"] = [datetime.date.fromisoformat(str(d)[:10]) for d in frame.event_dt]
    for (variant, day), got in frame.set_index(["variant", "event_dt"]).iterrows():
        mine = units[(units.variant == variant) & (units.event_dt == day)]
        matured = mine if day + datetime.timedelta(days=28) <= CUTOFF else mine.iloc[:0]
        y, x = matured.outcome_value.to_numpy(), matured.pre_value.to_numpy()
        assert got.units == len(mine)
        assert got.matured_units == len(matured)
        assert got.conversions == matured.converted.sum()
        assert got.value_sum == pytest.approx(y.sum())
        assert got.value_sum_squares == pytest.approx(y @ y)
        assert got.pre_sum == pytest.approx(x.sum())
        assert got.sum_products == pytest.approx(x @ y)
        assert got.units_pre_sum == pytest.approx(mine.pre_value.sum())
        assert got.units_pre_sum_squares == pytest.approx(np.square(mine.pre_value).sum())
    assert frame.units.sum() == len(units)
    # D1's units have matured by the cut-off, D2's not: they count in the split only.
    assert set(frame[frame.matured_units > 0].event_dt) == {D1}


def test_a_tie_between_variants_favours_neither(engine, planted):
    sql, params = queries.exposure_stats(KEY, START, END, CUTOFF)
    units = engine.run(sql, params).frame.groupby("variant").units.sum().to_dict()
    # Without the tied, switched and crawler identities: 40 + 20 and 30 + 25.
    assert units == {"control": 60, "treatment": 55}


def test_the_baseline_reads_the_same_units(engine, planted):
    units, _ = reference(planted)
    sql, params = queries.baseline(START, END, KEY)
    (row,) = engine.run(sql, params).frame.to_dict("records")
    control = units[units.variant == "control"]
    assert (row["units"], row["control_units"]) == (len(units), len(control))
    assert row["value_sum"] == pytest.approx(control.outcome_value.sum())
