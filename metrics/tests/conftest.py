"""Fixtures for metrics tests: the lakes as pandas frames, a long lake of five months with the
cases the small two-week demo lake barely has, and PostgreSQL copies of both."""

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metrics.catalogue import load_catalogue
from warehouse.engines.pg_loader import load_lake
from warehouse.lake import contract, storage
from warehouse.lake import views as lake_views
from warehouse.lake.storage import arrow_schema

LONG_LAKE_FIRST = date(2025, 9, 1)
LONG_LAKE_LAST = date(2026, 1, 31)


@pytest.fixture(scope="session")
def catalogue():
    from django.conf import settings

    return load_catalogue(settings.METRICS_DIR)


def read_table(root: Path, name: str) -> pd.DataFrame:
    """A lake table as one frame, with its partition column as a datetime column."""
    table = contract.table(name)
    parts = []
    for path in storage.data_files(root, table):
        frame = pq.read_table(path).to_pandas()
        if table.partition_column:
            day = path.parent.name.split("=", 1)[1]
            frame[table.partition_column] = pd.Timestamp(day)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=list(table.column_names))
    return pd.concat(parts, ignore_index=True)


class LakeFrames:
    """Tables of one lake, read on first use."""

    def __init__(self, root: Path):
        self.root = root
        self._frames: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = read_table(self.root, name)
        return self._frames[name].copy()


@pytest.fixture(scope="session")
def small_frames(small_lake) -> LakeFrames:
    return LakeFrames(small_lake)


# --------------------------------------------------------------------------- the long lake


def _long_lake_frames() -> dict[str, pd.DataFrame]:
    """Five months of the tables whose metrics look back or ahead further than the small lake's
    two weeks, or count cases it barely has. Bookings of 150 users with chosen gaps (exactly 7,
    30 and 90 days, just over, under a year, exactly a year and more apart), a quarter of them
    charged back (won, lost or pending); listings created before and during the months, some
    never booked, with daily availability snapshots and edits (freshness looks back 30 days);
    support tickets of the last three weeks, some answered late or not yet."""
    rng = np.random.default_rng(11)
    first = datetime.combine(LONG_LAKE_FIRST, datetime.min.time())
    end = datetime.combine(LONG_LAKE_LAST, datetime.max.time())
    span_s = int((end - first).total_seconds())

    n_listings = 60
    created = [first - timedelta(days=int(d)) for d in rng.integers(30, 900, 20)]
    created += [first + timedelta(seconds=int(s)) for s in rng.integers(0, span_s, 40)]
    listings = pd.DataFrame(
        {
            "listing_id": [f"lst_{i:03d}" for i in range(n_listings)],
            "listing_kind": np.where(rng.random(n_listings) < 0.3, "studio", "profile"),
            "owner_user_id": [f"own_{i:03d}" for i in range(n_listings)],
            "created_ts": pd.to_datetime(created).as_unit("us"),
            "city": rng.choice(["berlin", "vienna", "paris"], n_listings),
            "is_active": True,
            "deactivated_ts": pd.NaT,
        }
    )
    return {
        "dim_listings": listings,
        "fact_bookings": _bookings(rng, listings, first, span_s),
        **_supply(rng, listings, first, end),
        "support_tickets": _tickets(rng, end),
    }


def _bookings(rng, listings: pd.DataFrame, first: datetime, span_s: int) -> pd.DataFrame:
    gaps_days = [0.5, 3, 7, 7 + 1 / 86400, 12, 30, 30.5, 45, 89, 90, 90.01, 120]
    rows = []
    for u in range(150):
        at = first + timedelta(seconds=int(rng.integers(0, span_s)))
        while at <= first + timedelta(seconds=span_s):
            rows.append((f"usr_{u:03d}", at))
            if rng.random() < 0.35:
                break
            at += timedelta(days=float(rng.choice(gaps_days)))
    # Bookings before the months: 236 and 330 days before a later booking (which then is no
    # first booking), exactly 365 days before (neither), and 398 days before (still first).
    rows += [("usr_000", datetime(2025, 1, 10, 12)), ("usr_000", datetime(2025, 9, 3, 8))]
    rows += [("usr_003", datetime(2024, 10, 10, 9)), ("usr_003", datetime(2025, 9, 5, 9))]
    rows += [("usr_004", datetime(2024, 9, 10, 10)), ("usr_004", datetime(2025, 9, 10, 10))]
    rows += [("usr_001", datetime(2024, 8, 1, 9)), ("usr_001", datetime(2025, 9, 3, 9))]
    rows.append(("usr_002", datetime(2026, 1, 31, 23)))  # the data ends on the last day
    users, booked = zip(*rows, strict=True)
    booked_ts = pd.to_datetime(list(booked)).as_unit("us")
    n = len(rows)
    # Each booking is of a listing that existed then (the oldest listings always do).
    eligible = [np.flatnonzero(listings.created_ts.to_numpy() <= b) for b in booked_ts]
    listing = np.array([rng.choice(e) for e in eligible])
    charged = rng.random(n) < 0.25
    outcomes = rng.choice(["won", "lost", "pending"], n, p=[0.45, 0.4, 0.15])
    bookings = pd.DataFrame(
        {
            "booking_id": [f"bkg_{i:05d}" for i in range(n)],
            "user_id": list(users),
            "identity_id": [u.replace("usr_", "idn_") for u in users],
            "profile_id": listings.listing_id.to_numpy()[listing],
            "listing_kind": listings.listing_kind.to_numpy()[listing],
            "booked_ts": booked_ts,
            "amount_cents": rng.integers(5_000, 30_000, n),
            "currency": "EUR",
            "is_refunded": rng.random(n) < 0.1,
            "is_disputed": rng.random(n) < 0.05,
            "has_chargeback": charged,
            "chargeback_outcome": np.where(charged, outcomes, None),
        }
    )
    bookings["event_dt"] = bookings.booked_ts.dt.normalize()
    return bookings


def _supply(rng, listings: pd.DataFrame, first: datetime, end: datetime) -> dict:
    days = pd.date_range(first, end.date(), freq="D")
    grid = listings[["listing_id", "listing_kind", "created_ts"]].merge(
        pd.DataFrame({"event_dt": days}), how="cross"
    )
    snapshots = grid[grid.created_ts.dt.normalize() <= grid.event_dt].drop(columns="created_ts")
    snapshots = snapshots.assign(
        open_slots_next_14d=rng.poisson(2.0, len(snapshots)).astype(np.int32)
    )
    edited = grid[rng.random(len(grid)) < 1 / 25].drop(columns="created_ts")
    edits = edited.assign(
        updated_ts=edited.event_dt + pd.to_timedelta(rng.integers(0, 86_400, len(edited)), "s"),
        update_kind=rng.choice(["photos", "pricing", "description"], len(edited)),
    )
    return {"fact_availability_snapshots": snapshots, "fact_listing_updates": edits}


def _tickets(rng, end: datetime) -> pd.DataFrame:
    n = 400
    created = end - pd.to_timedelta(rng.integers(0, 21 * 86_400, n), "s")
    priority = rng.choice(["low", "normal", "high", "urgent"], n)
    sla_hours = pd.Series(priority).map({"low": 48, "normal": 12, "high": 4, "urgent": 1})
    auto = rng.random(n) < 0.2
    wait = np.where(auto, 30.0, rng.lognormal(np.log(3 * 3600), 1.2, n))
    responded = created + pd.to_timedelta(wait, "s")
    resolved = responded + pd.to_timedelta(rng.lognormal(np.log(10 * 3600), 1.0, n), "s")
    tickets = pd.DataFrame(
        {
            "ticket_id": [f"tkt_{i:04d}" for i in range(n)],
            "identity_id": [f"idn_{i % 90:03d}" for i in range(n)],
            "user_id": None,
            "channel": rng.choice(["email", "chat", "web_form"], n),
            "category": rng.choice(["account", "booking", "other"], n),
            "created_ts": created.as_unit("us"),
            # Not yet answered or resolved when the data ends: null, as in a real load.
            "first_response_ts": responded.where(responded <= end).as_unit("us"),
            "resolved_ts": resolved.where(resolved <= end).as_unit("us"),
            "auto_resolved": auto,
            "sla_due_ts": (created + pd.to_timedelta(sla_hours.to_numpy(), "h")).as_unit("us"),
            "priority": priority,
        }
    )
    tickets["event_dt"] = tickets.created_ts.dt.normalize()
    return tickets


def write_frames(root: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Write frames as lake tables: one file per partition, schemas from the contract. (Plain
    writes: nothing reads this lake while it is built.)"""
    for name, frame in frames.items():
        table = contract.table(name)
        schema = arrow_schema(table)
        groups = (
            frame.groupby(table.partition_column) if table.partition_column else [(None, frame)]
        )
        for day, rows in groups:
            data = pa.Table.from_pandas(rows[schema.names], schema=schema, preserve_index=False)
            if day is None:
                target = storage.table_dir(root, table)
            else:
                target = storage.partition_dir(root, table, day.date().isoformat())
            target.mkdir(parents=True, exist_ok=True)
            pq.write_table(data, target / "part-0.parquet")


@pytest.fixture(scope="session")
def long_frames_written(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("long_lake") / "lake"
    frames = _long_lake_frames()
    write_frames(root, frames)
    return root, frames


@pytest.fixture(scope="session")
def long_lake(long_frames_written) -> Path:
    return long_frames_written[0]


@pytest.fixture(scope="session")
def long_frames(long_lake) -> LakeFrames:
    """Read back from the files, as the engines read them."""
    return LakeFrames(long_lake)


@pytest.fixture
def long_lake_settings(long_lake, settings) -> Path:
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = long_lake
    return long_lake


# --------------------------------------------------------------------------- PostgreSQL copies


def _base_tables(name: str) -> frozenset[str]:
    table = contract.table(name)
    return lake_views.bases(table) if table.is_view else frozenset({name})


@pytest.fixture(scope="session")
def pg_lakes(catalogue, small_lake, long_frames_written, warehouse_pg_dsn, warehouse_pg_schema):
    """Both lakes loaded into PostgreSQL (the tables the metrics read, and the views over
    them): schema name per lake root."""
    long_lake, frames = long_frames_written
    small_schema, long_schema = warehouse_pg_schema, f"{warehouse_pg_schema}_long"
    read = {name for metric in catalogue.metrics.values() for name in metric.tables}
    tables = {base for name in read for base in _base_tables(name)}
    load_lake(warehouse_pg_dsn, small_lake, tables=sorted(tables), schema=small_schema)
    load_lake(warehouse_pg_dsn, long_lake, tables=sorted(frames), schema=long_schema)
    yield {small_lake: small_schema, long_lake: long_schema}
    import psycopg
    from psycopg import sql

    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(long_schema))
        )
