"""Fixtures of the explore tests: a funnel lake of two winters (so that last year, quarters and
a breakdown of seven values have data), read back with pandas for independent expectations."""

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.test import Client

from metrics.tests.conftest import read_table, write_frames
from warehouse.lake import storage
from warehouse.services import query_run_execute

FIRST, LAST = date(2024, 11, 1), date(2026, 3, 31)
# Seven kinds of very different sizes (and some rows without one): a top 3 leaves an Other.
KINDS = ["profile", "studio", "venue", "event", "class", "space", "tour"]
KIND_WEIGHTS = [0.35, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05]


def _funnel(rng) -> pd.DataFrame:
    days = pd.date_range(FIRST, LAST, freq="D")
    per_day = rng.poisson(40, len(days))
    event_dt = np.repeat(days.to_numpy(), per_day)
    n = len(event_dt)
    kinds = rng.choice(KINDS, n, p=KIND_WEIGHTS).astype(object)
    kinds[rng.random(n) < 0.03] = None
    # Each kind converts at its own rate, so Other's ratio differs from any mean of ratios.
    rate = pd.Series(kinds).map(dict(zip(KINDS, np.linspace(0.15, 0.6, 7), strict=True)))
    message = rng.random(n) < rate.fillna(0.3).to_numpy()
    steps = np.where(rng.random(n) < 0.3, "search", np.where(message, "message", "profile_view"))
    ts = pd.to_datetime(event_dt) + pd.to_timedelta(rng.integers(0, 86_400, n), "s")
    return pd.DataFrame(
        {
            "event_id": [f"evt_{i:07d}" for i in range(n)],
            "identity_id": [f"idn_{i % 500:04d}" for i in range(n)],
            "user_id": None,
            "session_id": [f"ses_{i % 2000:05d}" for i in range(n)],
            "step": steps,
            "profile_id": [f"lst_{i % 90:03d}" for i in range(n)],
            "listing_kind": kinds,
            "event_ts": ts.as_unit("us"),
            "silver_processed_ts": ts.as_unit("us"),
            "gold_processed_ts": ts.as_unit("us"),
            "event_dt": pd.to_datetime(event_dt),
        }
    )


@pytest.fixture(scope="session")
def funnel_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("explore_lake") / "lake"
    write_frames(root, {"fact_funnel_events": _funnel(np.random.default_rng(14))})
    storage.bump_watermark(root, LAST.isoformat())
    return root


@pytest.fixture(scope="session")
def funnel(funnel_lake) -> pd.DataFrame:
    """fact_funnel_events as written, read back from the files."""
    return read_table(funnel_lake, "fact_funnel_events")


@pytest.fixture
def funnel_settings(funnel_lake, settings) -> Path:
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = funnel_lake
    return funnel_lake


def answer(client: Client, url: str, query: dict) -> dict:
    """The API's 200, executing queued runs here as the worker would (tests have none)."""
    for _ in range(3):
        response = client.get(url, query)
        if response.status_code != 202:
            break
        query_run_execute(run_id=response.json()["run_id"])
    assert response.status_code == 200, response.content
    return response.json()
