"""Fixtures of the privacy tests: lakes that may be changed, the lake as pandas frames, users."""

import os
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.users import user_with_role
from warehouse import services as warehouse
from warehouse.lake import contract, storage
from warehouse.lake.storage import arrow_schema
from warehouse.management.commands.demo_lake import read_marker
from warehouse.models import QueryRun


def link_copy(source: Path, target: Path) -> Path:
    """A copy of a lake made of hard links: instant, and safe to erase in, because erasure
    replaces files by rename (the original inode stays with the source lake)."""
    shutil.copytree(source, target, copy_function=os.link)
    return target


def read_table(root: Path, name: str) -> pd.DataFrame:
    """A lake table as one frame (the independent reference: pandas over the files), with
    its partition column as a date and the file each row came from."""
    table = contract.table(name)
    parts = []
    for path in storage.data_files(root, table):
        frame = pq.ParquetFile(path).read().to_pandas()
        if table.partition_column:
            frame[table.partition_column] = pd.Timestamp(path.parent.name.split("=", 1)[1]).date()
        frame["_file"] = str(path)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(autouse=True)
def own_lake_root(settings, tmp_path: Path) -> None:
    """A lake of the test's own (empty) unless it asks for another: consent changes are written
    to the lake, and the default one, under VAR_DIR, is every test's."""
    settings.LAKE_ROOT = tmp_path / "own_lake"


@pytest.fixture
def lake_copy(small_lake: Path, tmp_path: Path, settings) -> Path:
    """A private, changeable copy of the shared small lake, and the settings pointing at it."""
    root = link_copy(small_lake, tmp_path / "lake")
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    return root


# --- a lake with enough finance cases to filter: the small lake plus extra files per table

EXTRA_FILE = "part-extra.parquet"


def _write_extra(root: Path, name: str, frame: pd.DataFrame) -> None:
    table = contract.table(name)
    schema = arrow_schema(table)
    for day, rows in frame.groupby("event_dt"):
        data = pa.Table.from_pandas(
            rows.drop(columns="event_dt"), schema=schema, preserve_index=False
        )
        storage.write_parquet(data, storage.partition_dir(root, table, str(day)) / EXTRA_FILE)


def add_finance_cases(root: Path, seed: int = 5) -> None:
    """Refunds, disputes and chargebacks on the lake's bookings, plus a few on bookings the lake
    does not have (their currency is unknown); some open, in every outcome."""
    built = read_marker(root)
    window_end = date.fromisoformat(built["end_date"])
    bookings = read_table(root, "fact_bookings")
    # On the window's bookings, in the window (the lake's bookings reach a year further back).
    bookings = bookings[bookings["event_dt"] > window_end - timedelta(days=built["days"])]
    rng = np.random.default_rng(seed)
    first = bookings["event_dt"].min()
    last = bookings["event_dt"].max()

    def cases(prefix: str, n: int) -> pd.DataFrame:
        known = bookings.sample(n - 3, replace=True, random_state=int(rng.integers(1e6)))
        booking_ids = [*known["booking_id"], *(f"bkg_missing_{prefix}{i}" for i in range(3))]
        users = [*known["user_id"], *(f"usr_missing_{i}" for i in range(3))]
        days = [first + timedelta(days=int(d)) for d in rng.integers(0, (last - first).days, n)]
        opened = [
            datetime.combine(d, datetime.min.time()) + timedelta(minutes=int(m))
            for d, m in zip(days, rng.integers(0, 1440, n), strict=True)
        ]
        closed = [
            None if i % 4 == 0 else o + timedelta(hours=int(h))
            for i, (o, h) in enumerate(zip(opened, rng.integers(1, 200, n), strict=True))
        ]
        return pd.DataFrame(
            {
                f"{prefix}_id": [f"{prefix[:3]}_x{i:04d}" for i in range(n)],
                "booking_id": booking_ids,
                "user_id": users,
                "amount_cents": rng.integers(500, 40_000, n),
                "opened": opened,
                "closed": closed,
                "event_dt": days,
            }
        )

    refunds = cases("refund", 30)
    refunds["reason"] = rng.choice(["cancelled_by_client", "no_show", "cancelled_by_provider"], 30)
    _write_extra(
        root,
        "fin_refunds",
        refunds.rename(columns={"opened": "requested_ts", "closed": "refunded_ts"}),
    )
    disputes = cases("dispute", 20)
    disputes["outcome"] = [
        "pending" if c is None else o
        for c, o in zip(disputes["closed"], rng.choice(["won", "lost"], 20), strict=True)
    ]
    _write_extra(
        root,
        "fin_disputes",
        disputes.rename(columns={"opened": "opened_ts", "closed": "closed_ts"}),
    )
    chargebacks = cases("chargeback", 25)
    chargebacks["outcome"] = [
        "pending" if c is None else o
        for c, o in zip(chargebacks["closed"], rng.choice(["won", "lost"], 25), strict=True)
    ]
    chargebacks["card_country"] = rng.choice(["DE", "FR", "NL"], 25)
    _write_extra(
        root,
        "fin_chargebacks",
        chargebacks.rename(columns={"opened": "received_ts", "closed": "resolved_ts"}),
    )
    storage.bump_watermark(root)


@pytest.fixture(scope="session")
def finance_lake(small_lake: Path, tmp_path_factory) -> Path:
    root = link_copy(small_lake, tmp_path_factory.mktemp("finance") / "lake")
    add_finance_cases(root)
    return root


@pytest.fixture
def finance_settings(finance_lake: Path, settings) -> Path:
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = finance_lake
    settings.QUERY_WAIT_SECONDS = 0
    return finance_lake


def run_queued() -> int:
    """Execute the queued query runs here (the pages' runs, without a worker)."""
    ids = list(QueryRun.objects.filter(status=QueryRun.Status.QUEUED).values_list("pk", flat=True))
    for run_id in ids:
        warehouse.query_run_execute(run_id=run_id)
    return len(ids)


@pytest.fixture
def get_data() -> Callable:
    """GET a page or endpoint; when it queued query runs, run them and GET it again."""

    def get(client, url: str, **extra):
        response = client.get(url, **extra)
        if run_queued():
            response = client.get(url, **extra)
        return response

    return get


@pytest.fixture
def privacy_users(db):
    return user_with_role("privacy", "priv-alice"), user_with_role("privacy", "priv-bob")


@pytest.fixture
def eager_celery():
    """Tasks run in this process when sent (Celery's own test mode), for page tests that send
    one; the worker path itself is covered by tests/test_query_path.py and the DSAR tests."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


# A preview as the scan leaves it, for tests about the steps after it (privacy.dsar_preview).
PREVIEW = {
    "computed_at": "2026-12-07T00:00:00+00:00",
    "targets": ["lake"],
    "tables_scanned": 1,
    "linked_ids": 0,
    "unknown_ids": [],
    "rows": 1,
    "files": 1,
    "tables": [{"target": "lake", "table": "raw_events", "files": 1, "rows": 1}],
}


def previewed(request_id: int) -> None:
    from privacy.models import DsarRequest

    DsarRequest.objects.filter(pk=request_id).update(preview=PREVIEW)


@pytest.fixture
def old_lake(small_lake, tmp_path, settings):
    """The small lake with partitions long before its window: of raw events (bronze), events
    (silver) and funnel events (gold), on each side of their cut-offs."""
    root = link_copy(small_lake, tmp_path / "lake")
    for name, days in {
        "raw_events": ["2023-12-31", "2024-01-01"],  # bronze 25 months: cut-off 2024-01-01
        "events": ["2023-01-31", "2023-02-01"],  # silver 36 months: cut-off 2023-02-01
        "fact_funnel_events": ["2022-06-30"],
    }.items():
        table = contract.table(name)
        sample = storage.data_files(root, table)[0]
        for day in days:
            target = storage.partition_dir(root, table, day) / sample.name
            target.parent.mkdir(parents=True)
            target.write_bytes(sample.read_bytes())
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    settings.PRIVACY_RETENTION_LAYER_MONTHS = {"bronze": 25, "silver": 36, "gold": 36}
    settings.PRIVACY_RETENTION_TABLE_MONTHS = {"consent_changes": 0}
    return root


@pytest.fixture
def pg_warehouse(lake_copy, warehouse_pg_dsn, warehouse_pg_schema, settings, monkeypatch):
    """A PostgreSQL warehouse holding a copy of the lake's tables with ids (the schema's name)."""
    import psycopg
    from psycopg import sql

    from warehouse.engines import postgres as postgres_engine
    from warehouse.engines.pg_loader import load_lake
    from warehouse.lake import erasure

    schema = f"{warehouse_pg_schema}_dsar"
    names = [t.name for t in erasure.erasable_tables()]
    load_lake(warehouse_pg_dsn, lake_copy, tables=names, schema=schema)
    monkeypatch.setattr(postgres_engine, "LAKE_SCHEMA", schema)
    settings.WAREHOUSE = "postgres"
    settings.WAREHOUSE_POSTGRES_URL = warehouse_pg_dsn
    yield schema
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
