"""Fixtures of the experiments tests: lakes of their own (the results job writes to its lake).
PostgreSQL, for running the canonical SQL on a second engine, comes from tests/support."""

import shutil

import pytest

from warehouse.lake import contract, storage

EXPOSURES = contract.table("fact_experiment_exposures")


@pytest.fixture
def exposure_lake(small_lake, tmp_path, settings):
    """A copy of the small lake's experiment exposures, the identities (results by new or
    returning visitor), and the tables of the catalogue metrics the demo experiments name (and
    its marker), used as the lake."""
    root = tmp_path / "lake"
    others = ("fact_funnel_events", "fact_bookings", "dim_identities")
    for table in (EXPOSURES, *map(contract.table, others)):
        shutil.copytree(storage.table_dir(small_lake, table), storage.table_dir(root, table))
    for name in ("_demo_lake.json", storage.WATERMARK_FILE):
        shutil.copy(small_lake / name, root / name)
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    return root


@pytest.fixture
def empty_lake(tmp_path, settings):
    root = tmp_path / "lake"
    root.mkdir()
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    return root
