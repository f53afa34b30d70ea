"""The results job with a remote warehouse: on a real PostgreSQL copy of the lake (and through the
Redshift proxy in front of PostgreSQL) each computation replaces that day's rows of its
experiment in fact_experiment_result, read back here with psycopg and compared with the
computation's snapshots. Athena's statements are checked as SQL text."""

import datetime
import io
import re
import uuid

import psycopg
import pytest
import sqlglot
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from psycopg import sql
from pyathena.formatter import DefaultParameterFormatter
from sqlglot import exp

from experiments.models import Experiment, ResultComputation
from experiments.results import results_compute
from experiments.tests.builders import user
from warehouse import watermark
from warehouse.engines.pg_loader import load_lake
from warehouse.lake import contract, replace_sql, storage
from warehouse.tests.pg_redshift_proxy import redshift_settings

pytestmark = pytest.mark.django_db

RESULT = contract.table("fact_experiment_result")
# What the computations read, and the (empty) table they write.
LOADED = ["fact_experiment_exposures", "fact_funnel_events", "fact_bookings", RESULT.name]
COLUMNS = [c.name for c in RESULT.columns]
KEYS = ["search_ranking_v2", "checkout_button_color", "pricing_page_3way"]
KEY = "checkout_button_color"
ONE = datetime.timedelta(days=1)


def start_watermark(engine: str) -> None:
    """A load's watermark of this test's own: no result cached by another test is served."""
    mark = storage.Watermark(f"load-{uuid.uuid4().hex[:8]}", None)
    cache.set(watermark.REMOTE_KEY.format(engine=engine), mark, None)


def mark_of(engine: str, table: str = RESULT.name) -> str:
    """The version of one table's data in the warehouse's watermark."""
    return watermark.current(engine).table_version(table)


def warehouse_rows(dsn: str, schema: str) -> list[tuple]:
    """Every row of the table, sorted, read directly in PostgreSQL."""
    query = sql.SQL("SELECT {} FROM {} ORDER BY event_dt, experiment_key, metric, variant").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), sql.Identifier(schema, RESULT.name)
    )
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def expected_rows(computation: ResultComputation, day: datetime.date) -> list[tuple]:
    """The computation's snapshots as rows of the table (UTC timestamps without a zone)."""
    rows = [
        (
            computation.experiment.key,
            s.variant,
            s.metric,
            s.lift_abs,
            s.lift_rel,
            s.ci_low,
            s.ci_high,
            s.p_value,
            s.prob_beat_control,
            None if s.time_to_decision_days is None else float(s.time_to_decision_days),
            s.computed_at.astimezone(datetime.UTC).replace(tzinfo=None),
            day,
        )
        for s in computation.snapshots.all()
        if not s.error
    ]
    return sorted(rows, key=lambda r: (r[2], r[1]))


def of(rows: list[tuple], key: str, day: datetime.date) -> list[tuple]:
    return [r for r in rows if r[0] == key and r[-1] == day]


def others(rows: list[tuple], key: str, day: datetime.date) -> list[tuple]:
    return [r for r in rows if not (r[0] == key and r[-1] == day)]


def seed(dsn: str, schema: str, rows: list[tuple]) -> None:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(schema, RESULT.name),
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)),
    )
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(query, rows)


def neighbours(today: datetime.date) -> list[tuple]:
    """Rows the computations must leave alone: the experiment's day before, and today's rows of
    an experiment the portal does not know."""
    at = datetime.datetime(2026, 1, 5, 12, 0, 0, 250_001)
    return [
        (KEY, "treatment", "conversion", 0.01, 0.1, -0.01, 0.03, 0.2, 0.8, 4.0, at, today - ONE),
        ("elsewhere", "b", "conversion", 0.02, None, 0.0, 0.04, None, 0.9, None, at, today),
    ]


def demo_experiments() -> None:
    user("pm", "pm")
    call_command("demo_experiments", stdout=io.StringIO())


@pytest.fixture
def pg_copy(exposure_lake, pg_database, settings):
    """The lake's tables the computations read, and an empty fact_experiment_result, in the
    `lake` schema of a database of this test's own; the portal reads it as its warehouse."""
    load_lake(pg_database, exposure_lake, tables=LOADED, schema="lake")
    settings.WAREHOUSE = "postgres"
    settings.WAREHOUSE_POSTGRES_URL = pg_database
    start_watermark("postgres")
    return pg_database


def test_each_computation_replaces_its_days_rows_and_leaves_the_others(pg_copy, exposure_lake):
    today = timezone.now().date()
    seed(pg_copy, "lake", neighbours(today))
    before = mark_of("postgres")
    load = watermark.current("postgres")

    demo_experiments()

    rows = warehouse_rows(pg_copy, "lake")
    for key in KEYS:
        computation = Experiment.objects.get(key=key).computations.get()
        expected = expected_rows(computation, today)
        assert len(expected) >= 2
        assert of(rows, key, today) == expected, key
        assert computation.lake_status == (
            f"written to postgres lake.fact_experiment_result ({len(expected)} rows)"
        )
    assert sorted(r for r in rows if r[0] not in KEYS or r[-1] != today) == sorted(
        neighbours(today)
    )
    # Nothing went to the embedded lake, and the warehouse's watermark moved for the table
    # written, not for the tables the computations read nor for the load.
    assert not storage.table_dir(exposure_lake, RESULT).exists()
    moved = mark_of("postgres")
    assert moved != before and moved.startswith("results-")
    assert mark_of("postgres", "fact_experiment_exposures") == load.base
    assert watermark.current("postgres").version == load.version

    # The same rows again: nothing is written, the watermark stays.
    experiment = Experiment.objects.get(key=KEY)
    again = results_compute(experiment_id=experiment.pk)
    assert again.lake_status == "written (unchanged since the last write today)"
    assert warehouse_rows(pg_copy, "lake") == rows
    assert mark_of("postgres") == moved

    # The data changes (a third of the exposures go) and is loaded: the day's rows of the
    # experiment are replaced, not added to; every other row stays as it was.
    set_aside_exposures(pg_copy)
    changed = results_compute(experiment_id=experiment.pk)
    assert changed.status == "succeeded" and changed.content_hash != again.content_hash
    after = warehouse_rows(pg_copy, "lake")
    expected = expected_rows(changed, today)
    assert of(after, KEY, today) == expected
    assert expected != of(rows, KEY, today)
    assert {r[-2] for r in of(after, KEY, today)} == {
        changed.computed_at.astimezone(datetime.UTC).replace(tzinfo=None)
    }
    assert others(after, KEY, today) == others(rows, KEY, today)
    assert changed.lake_status.endswith(f"({len(expected)} rows)")


def set_aside_exposures(dsn: str) -> None:
    """A third of the experiment's exposures move to a side table (a reload that changed the
    data), and the warehouse's watermark moves as a load would move it."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE lake.aside AS SELECT * FROM lake.fact_experiment_exposures "
            "WHERE experiment_key = %s AND hashtext(identity_id) %% 3 = 0",
            [KEY],
        )
        gone = conn.execute(
            "DELETE FROM lake.fact_experiment_exposures WHERE experiment_key = %s "
            "AND hashtext(identity_id) %% 3 = 0",
            [KEY],
        ).rowcount
    assert gone > 100
    watermark.remote_changed("postgres", "reload")


def restore_exposures(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO lake.fact_experiment_exposures SELECT * FROM lake.aside")
        conn.execute("DROP TABLE lake.aside")
    watermark.remote_changed("postgres", "reload")


def test_a_failed_write_keeps_the_computation_and_the_next_run_writes_again(pg_copy):
    today = timezone.now().date()
    demo_experiments()
    experiment = Experiment.objects.get(key=KEY)
    first = experiment.computations.get()
    written = warehouse_rows(pg_copy, "lake")
    with psycopg.connect(pg_copy) as conn:
        conn.execute(
            "ALTER TABLE lake.fact_experiment_result "
            "ADD CONSTRAINT refuse CHECK (experiment_key <> 'checkout_button_color') NOT VALID"
        )
    set_aside_exposures(pg_copy)

    failed = results_compute(experiment_id=experiment.pk)

    assert failed.status == "succeeded" and failed.snapshots.count() == first.snapshots.count()
    assert failed.lake_status.startswith("failed: ") and '"refuse"' in failed.lake_status
    # The DELETE went through, the INSERT did not: the day has no rows of the experiment.
    assert of(warehouse_rows(pg_copy, "lake"), KEY, today) == []
    with psycopg.connect(pg_copy) as conn:
        conn.execute("ALTER TABLE lake.fact_experiment_result DROP CONSTRAINT refuse")
    restore_exposures(pg_copy)

    # The same rows as the last successful write, but a failed write came after it: written.
    again = results_compute(experiment_id=experiment.pk)
    assert again.content_hash == first.content_hash != failed.content_hash
    assert again.lake_status.startswith("written to postgres")
    rows = warehouse_rows(pg_copy, "lake")
    assert of(rows, KEY, today) == expected_rows(again, today)
    assert others(rows, KEY, today) == others(written, KEY, today)


def test_a_warehouse_without_the_table_is_told_not_failed(pg_copy):
    with psycopg.connect(pg_copy) as conn:
        conn.execute("DROP TABLE lake.fact_experiment_result")
    before = mark_of("postgres")

    demo_experiments()

    for computation in ResultComputation.objects.all():
        assert computation.status == "succeeded" and computation.snapshots.exists()
        assert computation.lake_status == (
            "not written: postgres has no fact_experiment_result table"
        )
    assert mark_of("postgres") == before


@pytest.fixture
def redshift_copy(exposure_lake, pg_database, settings):
    """The same tables in PostgreSQL's `public` schema (where a Redshift session looks), read
    and written through the proxy that makes redshift-connector accept PostgreSQL."""
    load_lake(pg_database, exposure_lake, tables=LOADED, schema="public")
    with redshift_settings(settings, pg_database):
        start_watermark("redshift")
        yield pg_database


def test_redshift_replaces_through_its_driver(redshift_copy):
    today = timezone.now().date()
    seed(redshift_copy, "public", neighbours(today))
    demo_experiments()

    rows = warehouse_rows(redshift_copy, "public")
    for key in KEYS:
        computation = Experiment.objects.get(key=key).computations.get()
        expected = expected_rows(computation, today)
        assert of(rows, key, today) == expected, key
        assert computation.lake_status == (
            f"written to redshift fact_experiment_result ({len(expected)} rows)"
        )
    assert sorted(r for r in rows if r[0] not in KEYS or r[-1] != today) == sorted(
        neighbours(today)
    )
    assert re.fullmatch(r"results-[a-z0-9_]+-[0-9-]{10}@[0-9a-f]+-[0-9a-f]{8}", mark_of("redshift"))
    assert re.fullmatch(r"load-[0-9a-f]{8}", watermark.current("redshift").version)


# --- the statements as SQL text (Athena: no server here)


def bound_row(key: str = KEY, variant: str = "b'; DROP TABLE x; --") -> dict:
    return {
        "experiment_key": key,
        "variant": variant,
        "metric": "conversion",
        "lift_abs": 0.0123456789012345,
        "lift_rel": None,
        "ci_low": -1.5e-07,
        "ci_high": 0.25,
        "p_value": 0.5,
        "prob_beat_control": None,
        "time_to_decision_days": 3.0,
        "computed_at": datetime.datetime(2026, 2, 1, 10, 30, 0, 123456),
    }


def literal(statement) -> str:
    """The statement with its values inlined as SQL literals (to parse it, not to run it)."""

    def value(match) -> str:
        v = statement.params[match[1]]
        if v is None:
            return "NULL"
        if isinstance(v, float):
            return repr(v)
        return "'" + v.replace("'", "''") + "'"

    return re.sub(r"%\((\w+)\)s", value, statement.sql).replace("%%", "%")


@pytest.mark.parametrize("dialect", ["athena", "trino", "redshift", "postgres"])
def test_statements_parse_and_bind_every_value(dialect):
    engine = "athena" if dialect == "trino" else dialect
    day = datetime.date(2026, 2, 1)
    rows = [bound_row(), bound_row(variant="c")]
    delete, insert = replace_sql.day_replace(
        RESULT, engine, "analytics", day, {"experiment_key": KEY}, rows
    )

    tree = sqlglot.parse_one(literal(delete), read=dialect)
    assert isinstance(tree, exp.Delete)
    assert (tree.this.name, tree.this.db) == (RESULT.name, "analytics")
    conditions = {c.this.name: c for c in tree.args["where"].find_all(exp.EQ)}
    assert set(conditions) == {"event_dt", "experiment_key"}
    assert delete.params == {"day": "2026-02-01", "key_experiment_key": KEY}

    tree = sqlglot.parse_one(literal(insert), read=dialect)
    assert isinstance(tree, exp.Insert)
    assert tree.this.this.name == RESULT.name and tree.this.this.db == "analytics"
    assert [c.name for c in tree.this.expressions] == COLUMNS
    values = tree.expression
    assert isinstance(values, exp.Values) and len(values.expressions) == 2
    # Every placeholder has its value, and no value is in the SQL itself.
    placeholders = set(re.findall(r"%\((\w+)\)s", insert.sql))
    assert placeholders == set(insert.params)
    assert len(insert.params) == 1 + 2 * (len(COLUMNS) - 1)
    assert insert.params["day"] == "2026-02-01" and insert.params["variant_0"] == rows[0]["variant"]
    assert insert.params["computed_at_1"] == "2026-02-01 10:30:00.123456"
    for text in ("DROP", KEY, "2026", "0.0123", "1.5e-07", "conversion"):
        assert text not in insert.sql and text not in delete.sql


def test_athena_keeps_microseconds_and_casts_what_trino_would_not_coerce():
    delete, insert = replace_sql.day_replace(
        RESULT,
        "athena",
        "analytics",
        datetime.date(2026, 2, 1),
        {"experiment_key": KEY},
        [bound_row()],
    )
    assert delete.sql == (
        'DELETE FROM "analytics"."fact_experiment_result" '
        "WHERE event_dt = CAST(%(day)s AS DATE) AND experiment_key = %(key_experiment_key)s"
    )
    assert insert.sql.startswith(
        'INSERT INTO "analytics"."fact_experiment_result" (experiment_key, variant, metric, '
    )
    assert "VALUES (%(experiment_key_0)s, %(variant_0)s, %(metric_0)s, " in insert.sql
    assert "CAST(%(lift_rel_0)s AS DOUBLE)" in insert.sql
    assert "CAST(%(computed_at_0)s AS TIMESTAMP(6)), CAST(%(day)s AS DATE))" in insert.sql

    # What pyathena sends (it inlines the bound values itself) parses, values intact.
    sent = DefaultParameterFormatter().format(insert.sql, insert.params)
    (row,) = sqlglot.parse_one(sent, read="trino").expression.expressions
    values = dict(zip(COLUMNS, row.expressions, strict=True))
    assert values["variant"].this == bound_row()["variant"]
    assert float(values["lift_abs"].this.this) == bound_row()["lift_abs"]
    assert isinstance(values["lift_rel"].this, exp.Null)
    assert values["computed_at"].this.this == "2026-02-01 10:30:00.123456"
    sent = DefaultParameterFormatter().format(delete.sql, delete.params)
    assert isinstance(sqlglot.parse_one(sent, read="trino"), exp.Delete)


def test_rows_outside_the_key_or_with_other_columns_are_refused():
    day = datetime.date(2026, 2, 1)
    key = {"experiment_key": KEY}
    with pytest.raises(ValueError, match="does not hold"):
        replace_sql.day_replace(RESULT, "postgres", "lake", day, key, [bound_row(key="other")])
    with pytest.raises(ValueError, match="columns"):
        replace_sql.day_replace(
            RESULT, "postgres", "lake", day, key, [{**bound_row(), "event_dt": day}]
        )
    with pytest.raises(ValueError, match="no rows"):
        replace_sql.day_replace(RESULT, "postgres", "lake", day, key, [])
