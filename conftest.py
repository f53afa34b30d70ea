import io
from pathlib import Path

import pytest
from django.core.management import call_command

# The shared demo lake of the test suite: 14 days up to 2026-01-31 (about 30,000 raw events).
# Partitions of more than 1,000 rows are split into bucket files, so that every suite reads
# the multi-file layout the big lakes have.
SMALL_LAKE = {"days": 14, "scale": 0.1, "seed": 3, "end_date": "2026-01-31", "rows_per_file": 1000}


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a small demo lake built once per test session with ``manage.py demo_lake``.

    Read-only: tests that change a lake build their own."""
    root = tmp_path_factory.mktemp("small_lake") / "lake"
    call_command("demo_lake", root=str(root), stdout=io.StringIO(), **SMALL_LAKE)
    return root


@pytest.fixture
def lake_settings(small_lake: Path, settings) -> Path:
    """Point the portal's DuckDB warehouse at the shared small lake for one test."""
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = small_lake
    return small_lake


@pytest.fixture(autouse=True)
def query_throttles_off(settings) -> None:
    """No per-user query throttle unless a test sets one (portal/tests/test_throttles.py):
    their counters outlive a test in the shared cache, and user ids repeat from test to test."""
    rates = {"query_burst": None, "query_sustained": None}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


pytest_plugins = ["tests.support.services", "tests.support.postgres", "tests.support.users"]
