"""Retention on remote warehouses: on a real PostgreSQL copy of the lake (and through the
Redshift proxy in front of PostgreSQL) the rows past each table's cut-off are counted, deleted
by bound DELETE statements, audited, and nothing younger is touched; checked against pandas over
the lake's files. Athena's statements are checked as SQL text."""

import io
import re
import socket
from datetime import date

import pandas as pd
import psycopg
import pytest
import sqlglot
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from psycopg import sql
from sqlglot import exp

from privacy import services
from privacy.models import AuditEvent
from privacy.tests.builders import TODAY
from privacy.tests.conftest import read_table
from tests.support.users import user_with_role
from warehouse import watermark
from warehouse.engines.base import TransientWarehouseError, tables_statement
from warehouse.engines.pg_loader import load_lake
from warehouse.lake import contract, retention_sql, storage
from warehouse.tests.pg_redshift_proxy import redshift_settings

pytestmark = pytest.mark.django_db

# The PostgreSQL copy: the tables the old lake has expired partitions of, one kept forever
# (consent_changes) and one with nothing expired (fact_bookings). The others are not loaded:
# retention skips what the warehouse does not hold.
LOADED = ["raw_events", "events", "fact_funnel_events", "consent_changes", "fact_bookings"]
# Cut-offs on TODAY (2026-02-01): bronze 25 months, silver and gold 36, consent_changes forever.
CUTOFFS = {
    "raw_events": date(2024, 1, 1),
    "events": date(2023, 2, 1),
    "fact_funnel_events": date(2023, 2, 1),
    "fact_bookings": date(2023, 2, 1),
}
MONTHS = {"raw_events": 25, "events": 36, "fact_funnel_events": 36, "fact_bookings": 36}


def lake_day_counts(root) -> dict[str, dict[date, int]]:
    """Rows per event_dt of every loaded table, by pandas over the Parquet files."""
    return {name: read_table(root, name).groupby("event_dt").size().to_dict() for name in LOADED}


def expired_by_pandas(days: dict[str, dict[date, int]], cutoffs=CUTOFFS) -> dict[str, int]:
    expired = {
        name: sum(n for day, n in days[name].items() if day < cutoff)
        for name, cutoff in cutoffs.items()
    }
    return {name: rows for name, rows in expired.items() if rows}


def warehouse_day_counts(dsn: str, schema: str) -> dict[str, dict[date, int]]:
    """Rows per event_dt of every loaded table, counted directly in PostgreSQL."""
    with psycopg.connect(dsn) as conn:
        return {
            name: dict(
                conn.execute(
                    sql.SQL("SELECT event_dt, count(*) FROM {} GROUP BY event_dt").format(
                        sql.Identifier(schema, name)
                    )
                ).fetchall()
            )
            for name in LOADED
        }


def deleted_audit() -> dict[str, dict]:
    events = AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DELETED)
    return {e.detail["table"]: e.detail for e in events.order_by("pk")}


@pytest.fixture
def pg_copy(old_lake, pg_database, settings):
    load_lake(pg_database, old_lake, tables=LOADED, schema="lake")
    settings.WAREHOUSE = "postgres"
    settings.WAREHOUSE_POSTGRES_URL = pg_database
    return pg_database


def test_dry_run_counts_what_would_go_and_changes_nothing(old_lake, pg_copy):
    days = lake_day_counts(old_lake)
    assert warehouse_day_counts(pg_copy, "lake") == days  # the copy is the lake

    result = services.retention_apply(actor="t", dry_run=True, today=TODAY)

    listed = {r.table: (r.engine, r.rows, r.cutoff, r.months) for r in result.remote}
    expected = expired_by_pandas(days)
    assert set(expected) == {"raw_events", "events", "fact_funnel_events"}
    assert listed == {
        name: ("postgres", rows, CUTOFFS[name], MONTHS[name]) for name, rows in expected.items()
    }
    assert warehouse_day_counts(pg_copy, "lake") == days
    assert len(result.partitions) == 3  # the lake's own expired partitions, listed too
    assert not AuditEvent.objects.exists()
    assert cache.get("warehouse:watermark:postgres") is None


def test_deletes_only_rows_past_the_cutoff_audited_and_a_rerun_does_nothing(
    old_lake,
    pg_copy,
):
    days = lake_day_counts(old_lake)
    expected = expired_by_pandas(days)
    cache.set("warehouse:watermark:postgres", storage.Watermark("load-1", "2026-01-31"), None)

    result = services.retention_apply(actor="retention-job", today=TODAY)

    assert {r.table: r.rows for r in result.remote} == expected
    after = warehouse_day_counts(pg_copy, "lake")
    for name in LOADED:
        cutoff = CUTOFFS.get(name, date.min)
        # Every day from the cut-off on keeps all its rows; nothing older is left.
        assert after[name] == {d: n for d, n in days[name].items() if d >= cutoff}, name
    assert after["consent_changes"] == days["consent_changes"]
    assert min(after["raw_events"]) == date(2024, 1, 1)  # the boundary day stays

    audit = deleted_audit()
    assert set(audit) == set(expected)
    for name, detail in audit.items():
        assert detail["engine"] == "postgres" and detail["rows"] == expected[name]
        assert detail["cutoff"] == CUTOFFS[name].isoformat()
        assert detail["retention_months"] == MONTHS[name]
        # Bound, never formatted: the statement holds a placeholder, not the date.
        assert detail["statement"].startswith('DELETE FROM "lake"."')
        assert "%(cutoff)s" in detail["statement"] and detail["cutoff"] not in detail["statement"]
        assert detail["physical_followup"][0].startswith(f'VACUUM "lake"."{name}"')
    assert AuditEvent.objects.get(action="retention.deleted", detail__table="raw_events").actor == (
        "retention-job"
    )
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DROPPED).count() == 3
    # The tables rows were deleted from moved in the watermark, and only those.
    mark = watermark.current("postgres")
    assert mark.max_partition == "2026-01-31" and mark.version == "load-1"
    assert {name for name, _ in mark.tables} == set(expected)

    # The privacy team's retention page lists what went, with the follow-up to run.
    team = Client()
    team.force_login(user_with_role("privacy"))
    page = team.get("/privacy/retention/").content.decode()
    assert "Deleted in the warehouse (postgres)" in page
    assert f'<td>raw_events</td><td class="num">{expected["raw_events"]:,}</td>' in page
    assert "VACUUM &quot;lake&quot;.&quot;raw_events&quot;" in page

    again = services.retention_apply(actor="again", today=TODAY)
    assert again.remote == [] and again.partitions == []
    assert warehouse_day_counts(pg_copy, "lake") == after
    assert AuditEvent.objects.filter(actor="again").count() == 0
    assert watermark.current("postgres") == mark


def test_command_lists_the_rows_and_the_physical_followup(old_lake, pg_copy):
    # The command runs on the real date: cut-offs by pandas' calendar arithmetic.
    today = pd.Timestamp(timezone.now().date())
    cutoffs = {name: (today - pd.DateOffset(months=MONTHS[name])).date() for name in CUTOFFS}
    expected = expired_by_pandas(lake_day_counts(old_lake), cutoffs)
    assert "raw_events" in expected
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    for name, rows in expected.items():
        assert (
            f"would delete\tpostgres.{name}\t{rows} rows"
            f"\t(event_dt before {cutoffs[name]}, {MONTHS[name]} months)"
        ) in lines
    assert '  VACUUM "lake"."raw_events" -- reclaim the dead row versions of the deleted rows' in (
        lines
    )
    rows = sum(expected.values())
    assert f"{rows} rows in {len(expected)} tables of postgres would be deleted" in lines
    assert not AuditEvent.objects.exists()


@pytest.fixture
def redshift_copy(old_lake, pg_database, settings):
    """The lake's tables in PostgreSQL's `public` schema (where a Redshift session looks), read
    through the proxy that makes redshift-connector accept PostgreSQL."""
    load_lake(pg_database, old_lake, tables=LOADED, schema="public")
    with redshift_settings(settings, pg_database):
        yield pg_database


def test_redshift_deletes_through_its_driver(old_lake, redshift_copy):
    days = lake_day_counts(old_lake)
    expected = expired_by_pandas(days)

    dry = services.retention_apply(actor="t", dry_run=True, today=TODAY)
    assert {r.table: (r.engine, r.rows) for r in dry.remote} == {
        name: ("redshift", rows) for name, rows in expected.items()
    }
    assert warehouse_day_counts(redshift_copy, "public") == days

    services.retention_apply(actor="retention-job", today=TODAY)
    after = warehouse_day_counts(redshift_copy, "public")
    for name in LOADED:
        cutoff = CUTOFFS.get(name, date.min)
        assert after[name] == {d: n for d, n in days[name].items() if d >= cutoff}, name
    audit = deleted_audit()
    assert {name: d["rows"] for name, d in audit.items()} == expected
    assert audit["raw_events"]["statement"].startswith('DELETE FROM "raw_events" WHERE')
    assert audit["raw_events"]["physical_followup"][0].startswith('VACUUM DELETE ONLY "raw_events"')
    assert services.retention_apply(actor="again", today=TODAY).remote == []


def literal(statement) -> str:
    """The statement with its values inlined as SQL strings (to parse it, not to run it)."""
    return re.sub(r"%\((\w+)\)s", lambda m: f"'{statement.params[m[1]]}'", statement.sql)


@pytest.mark.parametrize("dialect", ["athena", "redshift", "postgres"])
def test_statements_parse_in_their_dialect(dialect):
    cutoff = date(2024, 1, 1)
    for table in contract.TABLES.values():
        if not table.partition_column:
            continue
        delete = retention_sql.delete_statement(table, dialect, "analytics", cutoff)
        tree = sqlglot.parse_one(literal(delete), read=dialect)
        assert isinstance(tree, exp.Delete)
        assert (tree.this.name, tree.this.db) == (table.name, "analytics")
        condition = tree.args["where"].this
        assert isinstance(condition, exp.LT) and condition.this.name == "event_dt"
        assert delete.params == {"cutoff": "2024-01-01"} and "2024" not in delete.sql
        count = retention_sql.count_statement(table, dialect, "analytics", cutoff)
        assert isinstance(sqlglot.parse_one(literal(count), read=dialect), exp.Select)
        assert count.params == delete.params


def test_athena_statements_and_followup():
    table = contract.table("raw_events")
    delete = retention_sql.delete_statement(table, "athena", "analytics", date(2024, 1, 1))
    assert delete.sql == (
        'DELETE FROM "analytics"."raw_events" WHERE event_dt < CAST(%(cutoff)s AS DATE)'
    )
    followup = retention_sql.physical_followup(table, "athena", "analytics")
    assert [s.split(" -- ")[0] for s in followup] == [
        'OPTIMIZE "analytics"."raw_events" REWRITE DATA USING BIN_PACK',
        'VACUUM "analytics"."raw_events"',
    ]
    tables = tables_statement("athena", "analytics")
    assert tables.params == {"schema": "analytics"} and "'analytics'" not in tables.sql
    # Redshift has no schema setting: the session's current schema.
    assert "CURRENT_SCHEMA()" in tables_statement("redshift", None).sql


def closed_port() -> int:
    """A port that was free a moment ago: nothing listens there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable(settings, engine: str) -> None:
    port = closed_port()
    settings.WAREHOUSE = engine
    settings.WAREHOUSE_POSTGRES_URL = f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=2"
    settings.REDSHIFT = {
        **settings.REDSHIFT,
        **{"host": "127.0.0.1", "port": port, "user": "nobody", "password": "", "ssl": False},
    }


def test_an_unreachable_warehouse_does_not_hold_up_the_lake(old_lake, settings):
    unreachable(settings, "postgres")
    with pytest.raises(services.RetentionRemoteFailed) as failed:
        services.retention_apply(actor="retention-job", today=TODAY)
    assert isinstance(failed.value.__cause__, TransientWarehouseError)
    assert [(p.table, str(p.partition)) for p in failed.value.partitions] == [
        ("raw_events", "2023-12-31"),
        ("events", "2023-01-31"),
        ("fact_funnel_events", "2022-06-30"),
    ]
    assert not (old_lake / "bronze/raw_events/event_dt=2023-12-31").exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert actions == {AuditEvent.Action.RETENTION_DROPPED}


@pytest.mark.parametrize("engine", ["postgres", "redshift"])
@pytest.mark.parametrize("dry_run", [True, False])
def test_command_on_an_unreachable_warehouse_prints_the_lake_then_one_line(
    old_lake,
    settings,
    engine,
    dry_run,
):
    unreachable(settings, engine)
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("retention", *(["--dry-run"] if dry_run else []), stdout=out)
    message = str(failed.value)
    assert message.startswith(f"retention on the {engine} warehouse failed: ")
    assert "\n" not in message and "Traceback" not in message
    assert re.search("refused|unreachable", message, re.IGNORECASE), message
    # What the lake part did comes first, as after a run without a remote warehouse. The
    # command runs on the real date: the old partitions past their cut-off by pandas.
    verb = "would drop" if dry_run else "dropped"
    today = pd.Timestamp(timezone.now().date())
    old = {
        "raw_events": ["2023-12-31", "2024-01-01"],
        "events": ["2023-01-31", "2023-02-01"],
        "fact_funnel_events": ["2022-06-30"],
    }
    expected = [
        [verb, name, f"event_dt={day}"]
        for name, days in old.items()
        for day in days
        if pd.Timestamp(day) < today - pd.DateOffset(months=MONTHS[name])
    ]
    lines = out.getvalue().splitlines()
    assert [line.split("\t")[:3] for line in lines[:-1]] == expected
    assert lines[-1] == f"{len(expected)} partitions {verb}"
    assert (old_lake / "bronze/raw_events/event_dt=2023-12-31").exists() == dry_run
