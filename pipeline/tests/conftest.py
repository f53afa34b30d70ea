"""Scenario lakes: a demo lake of three weeks, copied per test so a test may damage its copy."""

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command

# Three weeks, so that the last days have two earlier same weekdays for the volume baseline; at
# this scale the busy hours hold a few hundred events, enough to judge an hour.
SCENARIO_LAKE = {"days": 21, "scale": 0.2, "seed": 11, "end_date": "2026-01-31"}
# Half an hour after the lake's last event: buckets up to 2026-01-31 21:00 are settled.
AS_OF = datetime(2026, 2, 1, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def scenario_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scenario") / "lake"
    call_command("demo_lake", root=str(root), stdout=io.StringIO(), **SCENARIO_LAKE)
    return root


@pytest.fixture
def scenario_lake(scenario_base: Path, tmp_path: Path, settings) -> Path:
    """A private copy of the scenario lake, which the warehouse reads for this test."""
    root = tmp_path / "lake"
    shutil.copytree(scenario_base, root)
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    return root
