"""The restricted views on DuckDB (per query, over the Parquet files) and PostgreSQL (created by
the loader), each checked against pandas over the lake files; their DDL for Athena/Redshift."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from privacy.tests.builders import expected_finance_cases
from privacy.tests.conftest import read_table
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.pg_loader import load_lake
from warehouse.engines.postgres import PostgresEngine
from warehouse.lake import contract
from warehouse.lake import views as lake_views

WINDOW = {"start": date(2026, 1, 18), "end": date(2026, 1, 31)}


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


FINANCE_SQL = (
    "SELECT case_kind, case_id, booking_id, amount_cents, currency, outcome, reason, "
    "card_country, opened_ts, closed_ts FROM finance_cases_v "
    "WHERE event_dt BETWEEN :start AND :end"
)
TICKETS_SQL = (
    "SELECT ticket_id, first_response_minutes, resolution_minutes, sla_breached "
    "FROM support_tickets_v WHERE event_dt BETWEEN :start AND :end"
)
DMCA_SQL = (
    "SELECT notice_id, cycle_hours, action FROM support_dmca_notices_v "
    "WHERE event_dt BETWEEN :start AND :end"
)


def check_finance(frame: pd.DataFrame, root) -> None:
    expected = expected_finance_cases(root)
    day = pd.to_datetime(expected["opened_ts"]).dt.date
    expected = expected[(day >= WINDOW["start"]) & (day <= WINDOW["end"])]  # bookings go back
    assert len(frame) == len(expected) == 4 + 1 + 0 + 30 + 20 + 25
    got, want = _sorted(frame, "case_id"), _sorted(expected, "case_id")
    for column in ("case_kind", "booking_id", "outcome"):
        assert got[column].tolist() == want[column].tolist(), column
    assert got["amount_cents"].astype(int).tolist() == want["amount_cents"].astype(int).tolist()
    assert got["currency"].isna().tolist() == want["currency"].isna().tolist()
    assert got["currency"].isna().sum() == 9  # the cases on bookings the lake does not have
    assert (got["opened_ts"] == pd.to_datetime(want["opened_ts"])).all()
    assert set(got.loc[got["case_kind"] == "refund", "outcome"]) == {"refunded", "processing"}


def check_tickets(frame: pd.DataFrame, root) -> None:
    raw = read_table(root, "support_tickets")
    want = _sorted(raw, "ticket_id")
    got = _sorted(frame, "ticket_id")
    assert got["ticket_id"].tolist() == want["ticket_id"].tolist()
    minutes = (want["first_response_ts"] - want["created_ts"]).dt.total_seconds() / 60
    assert np.allclose(got["first_response_minutes"], minutes, equal_nan=True)
    hours = (want["resolved_ts"] - want["created_ts"]).dt.total_seconds() / 60
    assert np.allclose(got["resolution_minutes"], hours, equal_nan=True)
    breached = want["first_response_ts"] > want["sla_due_ts"]
    known = want["first_response_ts"].notna() & want["sla_due_ts"].notna()
    assert got.loc[known, "sla_breached"].astype(bool).tolist() == breached[known].tolist()
    assert got.loc[~known, "sla_breached"].isna().all()
    assert breached[known].any() and (~breached[known]).any()


def check_dmca(frame: pd.DataFrame, root) -> None:
    want = _sorted(read_table(root, "support_dmca_notices"), "notice_id")
    got = _sorted(frame, "notice_id")
    hours = (want["actioned_ts"] - want["received_ts"]).dt.total_seconds() / 3600
    assert got["notice_id"].tolist() == want["notice_id"].tolist()
    assert np.allclose(got["cycle_hours"], hours, equal_nan=True)


CHECKS = [(FINANCE_SQL, check_finance), (TICKETS_SQL, check_tickets), (DMCA_SQL, check_dmca)]


@pytest.mark.parametrize(("sql", "check"), CHECKS)
def test_views_on_duckdb_match_pandas(finance_lake, sql, check):
    engine = DuckDBEngine(finance_lake, threads=2, memory_limit="1GB", timeout_s=60)
    check(engine.run(sql, WINDOW).frame, finance_lake)


@pytest.fixture(scope="module")
def pg_finance(finance_lake, warehouse_pg_dsn, warehouse_pg_schema):
    names = {"fact_bookings", "consent_changes"} | {
        name for view in contract.VIEWS.values() for name in lake_views.bases(view)
    }
    load_lake(warehouse_pg_dsn, finance_lake, tables=sorted(names), schema=warehouse_pg_schema)
    return PostgresEngine(warehouse_pg_dsn, timeout_s=60, schema=warehouse_pg_schema)


@pytest.mark.parametrize(("sql", "check"), CHECKS)
def test_views_on_postgres_match_pandas(pg_finance, finance_lake, sql, check):
    check(pg_finance.run(sql, WINDOW).frame, finance_lake)


def test_reloading_a_base_table_keeps_its_views(
    pg_finance, finance_lake, warehouse_pg_dsn, warehouse_pg_schema
):
    # DROP ... CASCADE takes the views with the old table; the loader recreates them.
    load_lake(warehouse_pg_dsn, finance_lake, tables=["fin_refunds"], schema=warehouse_pg_schema)
    check_finance(pg_finance.run(FINANCE_SQL, WINDOW).frame, finance_lake)


def test_consent_view_keeps_identity_but_not_user_ids(finance_lake):
    engine = DuckDBEngine(finance_lake, threads=2, memory_limit="1GB", timeout_s=60)
    sql = "SELECT * FROM consent_changes_v WHERE event_dt BETWEEN :start AND :end"
    frame = engine.run(sql, WINDOW).frame
    raw = read_table(finance_lake, "consent_changes")
    in_window = raw[(raw["event_dt"] >= WINDOW["start"]) & (raw["event_dt"] <= WINDOW["end"])]
    assert len(frame) == len(in_window) > 0
    assert "user_id" not in frame.columns and "identity_id" in frame.columns


def test_views_keep_only_the_columns_of_their_role():
    for view in contract.VIEWS.values():
        assert view.is_view and view.access.value.endswith("_view")
        assert all(
            contract.table(b).access.value in {"general", view.access.value[:-5]}
            for b in lake_views.bases(view)
        ), view.name
        assert "user_id" not in view.column_names, view.name
    for name in ("finance_cases_v", "support_tickets_v", "support_dmca_notices_v"):
        assert not contract.VIEWS[name].identity_columns


@pytest.mark.parametrize("dialect", ["athena", "redshift", "postgres"])
def test_view_ddl_parses_in_its_dialect(dialect):
    for view in contract.VIEWS.values():
        ddl = lake_views.create_view_sql(view, dialect, "analytics")
        assert "%" not in view.definition  # the DDL runs without parameters
        tree = sqlglot.parse_one(ddl, read=dialect)
        assert isinstance(tree, exp.Create) and tree.kind == "VIEW"
        read = {t.name for t in tree.expression.find_all(exp.Table) if t.db == "analytics"}
        assert read == set(lake_views.bases(view))
