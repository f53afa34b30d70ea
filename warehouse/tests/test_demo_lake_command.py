"""``manage.py demo_lake``: arguments checked, a lake built once, replaced only whole."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from demo_lake.config import HISTORY_DAYS
from warehouse.lake.contract import TABLES, fingerprint
from warehouse.lake.layout import ROWS_PER_FILE
from warehouse.lake.storage import data_files, read_watermark

TINY = {"days": 3, "scale": 0.02, "seed": 1, "end_date": "2025-12-31"}


def build(root: Path, **options) -> str:
    out = io.StringIO()
    call_command("demo_lake", root=str(root), stdout=out, **{**TINY, **options})
    return out.getvalue()


def raw_events(root: Path) -> pd.DataFrame:
    """The lake's raw events, file by file in path order."""
    files = data_files(root, TABLES["raw_events"])
    return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)


def test_rerun_is_a_noop_and_force_rebuilds_the_same_lake(tmp_path):
    root = tmp_path / "lake"
    first = build(root)
    assert "events/s" in first and "Demo lake ready" in first
    assert json.loads((root / "_demo_lake.json").read_text()) == {
        **TINY,
        "scale": 0.02,
        "rows_per_file": ROWS_PER_FILE,
        "history_days": HISTORY_DAYS,
        "contract": fingerprint(),
    }
    mark = read_watermark(root)
    assert mark.max_partition == TINY["end_date"]
    sample = data_files(root, TABLES["raw_events"])[0]
    before = (sample.stat().st_mtime_ns, raw_events(root))

    assert "nothing to do" in build(root)
    assert "Use --force" in build(root, days=4)
    assert "Use --force" in build(root, history_days=30)
    assert read_watermark(root) == mark and sample.stat().st_mtime_ns == before[0]

    build(root, force=True)
    assert read_watermark(root).version != mark.version
    pd.testing.assert_frame_equal(raw_events(root), before[1])
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_lake_of_another_contract_is_rebuilt_with_the_same_arguments(tmp_path):
    # A lake from before a column was added: the same arguments, an older contract.
    root = tmp_path / "lake"
    build(root)
    marker = root / "_demo_lake.json"
    marker.write_text(json.dumps(json.loads(marker.read_text()) | {"contract": "older"}))
    mark = read_watermark(root)
    assert "another lake contract; rebuilding" in build(root)
    assert json.loads(marker.read_text())["contract"] == fingerprint()
    assert read_watermark(root).version != mark.version
    assert not list(tmp_path.rglob(".tmp-*"))
    # Other arguments still need --force, and the answer says the lake is of an older contract.
    marker.write_text(json.dumps(json.loads(marker.read_text()) | {"contract": "older"}))
    answer = build(root, days=4)
    assert "for an older lake contract; nothing done. Use --force" in answer


def test_a_failed_build_leaves_no_half_lake_and_keeps_the_old_one(tmp_path, monkeypatch):
    def killed(root: Path, config, progress=None):
        (root / "bronze").mkdir(parents=True)
        (root / "bronze" / "part.parquet").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr("demo_lake.build.generate_lake", killed)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "new")
    assert not (tmp_path / "new").exists()

    monkeypatch.undo()
    build(tmp_path / "old")
    monkeypatch.setattr("demo_lake.build.generate_lake", killed)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "old", force=True)
    assert (tmp_path / "old" / "_demo_lake.json").exists()
    assert not list(tmp_path.rglob(".tmp-*"))


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"days": 0}, "--days"),
        ({"days": 10_000}, "--days"),
        ({"scale": 0}, "--scale"),
        ({"scale": -1.0}, "--scale"),
        ({"seed": -1}, "--seed"),
        ({"end_date": "2026-02-30"}, "--end-date"),
        ({"end_date": "31.01.2026"}, "--end-date"),
        ({"rows_per_file": 0}, "--rows-per-file"),
        ({"history_days": -1}, "--history-days"),
        ({"history_days": 10_000}, "--history-days"),
    ],
)
def test_bad_arguments_raise_a_command_error_naming_the_argument(tmp_path, options, named):
    with pytest.raises(CommandError, match=named):
        build(tmp_path / "lake", **options)
    assert not (tmp_path / "lake").exists()


def test_bad_arguments_from_the_command_line_name_the_argument(tmp_path):
    with pytest.raises(CommandError, match="--scale"):
        call_command("demo_lake", "--scale", "lots", "--root", str(tmp_path / "lake"))


def test_a_directory_that_is_not_a_demo_lake_is_not_replaced_without_force(tmp_path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "precious.txt").write_text("keep me")
    with pytest.raises(CommandError, match="--root"):
        build(tmp_path / "lake")
    assert (tmp_path / "lake" / "precious.txt").exists()
