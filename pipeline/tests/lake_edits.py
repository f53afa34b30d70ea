"""Damage done to a scenario lake with pyarrow, as a broken pipeline would do it."""

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.lake import contract, layout, storage

HOUR = timedelta(hours=1)


def partition(root: Path, table: str, day) -> Path:
    # Scenario lakes are small: each partition is one file.
    return storage.partition_dir(root, contract.table(table), day.isoformat()) / layout.file_name(0)


def read(root: Path, table: str, day) -> pa.Table:
    return pq.ParquetFile(partition(root, table, day)).read()  # the file, without event_dt


def write(root: Path, table: str, day, data: pa.Table) -> None:
    storage.write_parquet(data, partition(root, table, day))


def _in_hour(data: pa.Table, column: str, start: datetime) -> np.ndarray:
    ts = data[column].to_numpy()
    begin = np.datetime64(start.replace(tzinfo=None), "us")
    return (ts >= begin) & (ts < begin + np.timedelta64(1, "h"))


def _gold_days(root: Path, day) -> list:
    return [
        day - timedelta(days=k)
        for k in range(3)
        if partition(root, "fact_funnel_events", day - timedelta(days=k)).exists()
    ]


def drop_from_silver(root: Path, start: datetime, share: float, seed: int = 1) -> int:
    """Lose ``share`` of the events ingested in the hour from ``start`` between bronze and
    silver (and so also in gold). Returns how many were lost."""
    day = start.date()
    events = read(root, "events", day)
    rows = np.flatnonzero(_in_hour(events, "ingest_ts", start))
    rng = np.random.default_rng(seed)
    lost = rng.choice(rows, size=round(len(rows) * share), replace=False)
    keep = np.ones(events.num_rows, dtype=bool)
    keep[lost] = False
    lost_ids = events["event_id"].take(pa.array(lost))
    write(root, "events", day, events.filter(pa.array(keep)))
    for gold_day in _gold_days(root, day):
        gold = read(root, "fact_funnel_events", gold_day)
        write(
            root,
            "fact_funnel_events",
            gold_day,
            gold.filter(pc.invert(pc.is_in(gold["event_id"], lost_ids))),
        )
    storage.bump_watermark(root)
    return len(lost)


def delay_silver(root: Path, start: datetime, minutes: int) -> int:
    """Silver processes the events ingested in the hour from ``start`` ``minutes`` late (gold
    follows by as much). Returns how many events were delayed."""
    day, shift = start.date(), pa.scalar(timedelta(minutes=minutes), pa.duration("us"))
    events = read(root, "events", day)
    hit = pa.array(_in_hour(events, "ingest_ts", start))
    column = events.schema.get_field_index("silver_processed_ts")
    moved = pc.if_else(
        hit, pc.add(events["silver_processed_ts"], shift), events["silver_processed_ts"]
    )
    write(root, "events", day, events.set_column(column, "silver_processed_ts", moved))
    ids = events["event_id"].filter(hit)
    for gold_day in _gold_days(root, day):
        gold = read(root, "fact_funnel_events", gold_day)
        mine = pc.is_in(gold["event_id"], ids)
        for name in ("silver_processed_ts", "gold_processed_ts"):
            index = gold.schema.get_field_index(name)
            gold = gold.set_column(
                index, name, pc.if_else(mine, pc.add(gold[name], shift), gold[name])
            )
        write(root, "fact_funnel_events", gold_day, gold)
    storage.bump_watermark(root)
    return len(ids)


def set_schema_version(root: Path, start: datetime, event_name: str, version: int) -> int:
    """Clients send ``event_name`` with schema ``version`` during the hour from ``start``."""
    day = start.date()
    raw = read(root, "raw_events", day)
    hit = pa.array(
        _in_hour(raw, "ingest_ts", start)
        & (raw["event_name"].to_numpy(zero_copy_only=False) == event_name)
    )
    column = raw.schema.get_field_index("schema_version")
    versions = pc.if_else(hit, pa.scalar(version, pa.int32()), raw["schema_version"])
    write(root, "raw_events", day, raw.set_column(column, "schema_version", versions))
    storage.bump_watermark(root)
    return pc.sum(hit).as_py()


def spike_dead_letters(root: Path, start: datetime, count: int, reason: str, payload: str) -> None:
    """``count`` more page_view events rejected for ``reason`` during the hour from ``start``."""
    day = start.date()
    letters = read(root, "dead_letter_events", day)
    received = np.datetime64(start.replace(tzinfo=None), "us") + (
        np.arange(count) * (3_600_000_000 // count)
    ).astype("timedelta64[us]")
    extra = pa.table(
        {
            "event_id": [f"evt_spike{i:07d}" for i in range(count)],
            "event_name": ["page_view"] * count,
            "identity_id": [f"idn_spike{i:07d}" for i in range(count)],
            "user_id": pa.nulls(count, pa.string()),
            "reason": [reason] * count,
            "received_ts": pa.array(received, pa.timestamp("us")),
            "payload": [payload] * count,
        },
        schema=letters.schema,
    )
    write(root, "dead_letter_events", day, pa.concat_tables([letters, extra]))
    storage.bump_watermark(root)
