"""Demo-lake generation speed and memory, at the default scale and at 50M events."""

import json
import shutil
import tempfile

from bench import common


def _events(root) -> int:
    import pyarrow.dataset as ds

    return ds.dataset(
        root / "bronze" / "raw_events", format="parquet", partitioning="hive"
    ).count_rows()


def _build(root, scale: float, force: bool) -> dict:
    argv = common.manage(
        "demo_lake",
        "--root",
        str(root),
        "--scale",
        str(scale),
        "--seed",
        "7",
        "--end-date",
        "2026-10-31",
    )
    seconds, peak = common.run_measured([*argv, "--force"] if force else argv)
    events = _events(root)
    return {
        "scale": scale,
        "raw_events": events,
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds),
        "peak_rss_mb": round(peak / 2**20),
    }


def run() -> dict:
    with tempfile.TemporaryDirectory(dir=common.BENCH_VAR.parent) as tmp:
        default = _build(common.ROOT / tmp / "lake", 1.0, force=False)
    from warehouse.lake import layout

    marker = common.BENCH_LAKE / "_demo_lake.json"
    wanted = {"scale": common.BIG_SCALE, "rows_per_file": layout.ROWS_PER_FILE}
    built = json.loads(marker.read_text()) if marker.exists() else {}
    if all(built.get(key) == value for key, value in wanted.items()):
        big = {"scale": common.BIG_SCALE, "reused": True, "raw_events": _events(common.BENCH_LAKE)}
    else:
        shutil.rmtree(common.BENCH_LAKE, ignore_errors=True)
        big = _build(common.BENCH_LAKE, common.BIG_SCALE, force=False)
    return {
        "default": default,
        "big": big,
        "targets": {"default_seconds_max": 60, "big_peak_rss_mb_max": 4096},
    }
