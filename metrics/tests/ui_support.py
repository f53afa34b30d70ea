"""Helpers of the portal (pages and API) tests: metric data through the real path, and lake
tables read with pandas for independent expectations (logged-in clients: tests.support.users)."""

from pathlib import Path

import pandas as pd
from django.test import Client

from warehouse.lake import contract, storage
from warehouse.services import query_run_execute

WINDOW = {"start": "2026-01-18", "end": "2026-01-31"}  # the whole small lake


def fetch_data(client: Client, slug: str, **query) -> dict:
    """The metric data API's answer once the result is ready. A queued run is executed here,
    in this process, exactly as the worker's task would (tests run without a worker)."""
    url = f"/api/metrics/{slug}/data"
    response = client.get(url, query)
    if response.status_code == 202:
        run_id = response.json()["run_id"]
        query_run_execute(run_id=run_id)
        response = client.get(url, {k: v for k, v in query.items() if k != "force_refresh"})
    assert response.status_code == 200, response.content
    return response.json()


def rows(payload: dict) -> list[dict]:
    columns = payload["result"]["columns"]
    return [dict(zip(columns, row, strict=True)) for row in payload["result"]["rows"]]


def lake_table(root: Path, name: str) -> pd.DataFrame:
    """A lake table read with pandas straight from its Parquet files (partition as a date)."""
    table = contract.table(name)
    frames = []
    for path in storage.data_files(root, table):
        frame = pd.read_parquet(path)
        if table.partition_column:
            frame[table.partition_column] = path.parent.name.split("=", 1)[1]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
