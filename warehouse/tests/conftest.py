"""Fixtures for warehouse tests: a tiny lake with its own contract (PostgreSQL: tests/support)."""

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from warehouse.lake import contract, storage
from warehouse.lake.contract import Column, Layer, Table

INJECTION = "x'; DROP TABLE x; --"
DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(10)]  # Monday 1 to Wednesday 10

EVENTS = Table(
    name="events",
    layer=Layer.SILVER,
    description="test events",
    columns=(
        Column("event_dt", "date"),
        Column("identity_id", "varchar"),
        Column("event_name", "varchar"),
        Column("amount", "double"),
        Column("qty", "bigint"),
        Column("props", "varchar"),
        Column("ts", "timestamp"),
    ),
    identity_columns=("identity_id",),
)
USERS = Table(
    name="users",
    layer=Layer.GOLD,
    description="test users",
    columns=(
        Column("identity_id", "varchar"),
        Column("country", "varchar"),
        Column("signup_dt", "date"),
    ),
    partition_column=None,
    identity_columns=("identity_id",),
)
TINY_TABLES = {t.name: t for t in (EVENTS, USERS)}


@pytest.fixture
def tiny_contract(monkeypatch) -> dict[str, Table]:
    monkeypatch.setattr(contract, "TABLES", dict(TINY_TABLES))
    return TINY_TABLES


def tiny_frames() -> dict[str, pd.DataFrame]:
    """The tiny lake's rows; the tests compute expected numbers from these with pandas."""
    rng = np.random.default_rng(7)
    n = 40 * len(DAYS)
    identities = ["u1", "u2", "u3", "u4", "u5", INJECTION]
    os_names = np.array(["ios", "android", "web"])
    day = np.repeat(DAYS, n // len(DAYS))
    props = [
        None if i % 11 == 0 else f'{{"device": {{"os": "{os}"}}, "n": {i}}}'
        for i, os in enumerate(rng.choice(os_names, n))
    ]
    events = pd.DataFrame(
        {
            "event_dt": day,
            "identity_id": rng.choice(identities, n),
            "event_name": rng.choice(["view", "add_to_cart", "checkout", "purchase"], n),
            "amount": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 10_000, n) / 100),
            "qty": rng.integers(0, 6, n),
            "props": props,
            "ts": [
                datetime.combine(d, datetime.min.time()) + timedelta(seconds=int(s))
                for d, s in zip(day, rng.integers(0, 86_400, n), strict=True)
            ],
        }
    )
    users = pd.DataFrame(
        {
            "identity_id": ["u1", "u2", "u3", "u4", "u6", INJECTION],
            "country": ["de", "fr", "de", None, "it", ""],
            "signup_dt": [date(2023, 12, d) for d in (1, 2, 3, 4, 5, 6)],
        }
    )
    return {"events": events, "users": users}


def write_tiny_lake(root: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Write the frames as the lake layout; days with an even number get two files."""
    for day, rows in frames["events"].groupby("event_dt"):
        rows = rows.drop(columns="event_dt")
        target = storage.partition_dir(root, EVENTS, day.isoformat())
        halves = [rows[::2], rows[1::2]] if day.day % 2 == 0 else [rows]
        for i, part in enumerate(halves):
            data = pa.Table.from_pandas(part, preserve_index=False)
            storage.write_parquet(data, target / f"part-{i}.parquet")
    users = pa.Table.from_pandas(frames["users"], preserve_index=False)
    storage.write_parquet(users, storage.table_dir(root, USERS) / "part-0.parquet")


@pytest.fixture(scope="module")
def tiny_lake(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("lake")
    frames = tiny_frames()
    write_tiny_lake(root, frames)
    return root, frames
