"""Erasure on the embedded lake (warehouse.lake.erasure), checked file by file with pandas."""

import os
from collections import Counter

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from privacy.tests.builders import busy_subject, holds
from privacy.tests.conftest import read_table
from warehouse.lake import contract, erasure, layout, storage
from warehouse.lake.storage import arrow_schema

TOMB = "erased:0123456789abcdef01234567"


def mentions(frame: pd.DataFrame, table: contract.Table, ids) -> pd.Series:
    """Rows whose free text quotes one of ``ids``."""
    mask = pd.Series(False, index=frame.index)
    for column in erasure.text_columns(table):
        for value in ids:
            mask |= frame[column].fillna("").str.contains(f'"{value}"', regex=False)
    return mask


def stats(root) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_ino, p.stat().st_mtime_ns)
        for t in contract.TABLES.values()
        for p in storage.data_files(root, t)
    }


def erase_all(root, ids) -> dict[str, int]:
    con = erasure.connect()
    changed = {}
    for table in erasure.erasable_tables():
        for hit in erasure.scan(con, root, table, ids):
            changed[str(hit.path)] = erasure.rewrite(hit.path, table, ids, TOMB)
    con.close()
    return changed


def test_only_the_files_holding_the_ids_are_rewritten_and_rows_are_kept(lake_copy):
    ids = busy_subject(lake_copy)
    before_frames = {t.name: read_table(lake_copy, t.name) for t in erasure.erasable_tables()}
    expected_files = {
        file
        for t in erasure.erasable_tables()
        for file in before_frames[t.name]
        .loc[holds(before_frames[t.name], t, ids), "_file"]
        .unique()
    }
    before = stats(lake_copy)

    changed = erase_all(lake_copy, ids)

    after = stats(lake_copy)
    assert set(changed) == expected_files and len(expected_files) > 20
    assert set(after) == set(before)  # no file lost or added
    for path, (inode, mtime) in before.items():
        if path in expected_files:
            assert after[path][0] != inode, path  # a new file, renamed into place
        else:
            assert after[path] == (inode, mtime), path  # untouched
    for table in erasure.erasable_tables():
        old, new = before_frames[table.name], read_table(lake_copy, table.name)
        assert len(new) == len(old)
        hit = holds(old, table, ids)
        assert not holds(new, table, ids).any()
        assert sum(changed.get(f, 0) for f in old["_file"].unique()) == hit.sum()
        for column in table.identity_columns:
            was = old[column].isin(ids)
            assert (new.loc[was, column] == TOMB).all()
            assert new.loc[~was, column].equals(old.loc[~was, column])
        others = [c for c in old.columns if c not in table.identity_columns]
        pd.testing.assert_frame_equal(new[others], old[others])


def test_in_a_lake_split_into_buckets_only_the_bucket_of_the_identity_is_rewritten(lake_copy):
    """Why the lake is bucketed: a day's rows of one identity sit in one file of its day."""
    identity_id, _ = busy_subject(lake_copy)
    changed = erase_all(lake_copy, [identity_id])
    for table in (contract.table("raw_events"), contract.table("events")):
        files = storage.data_files(lake_copy, table)
        per_day = Counter(p.parent for p in files)
        assert max(per_day.values()) >= 4, table.name  # the small lake is split too
        rewritten = [p for p in files if str(p) in changed]
        assert len(rewritten) == len({p.parent for p in rewritten}) > 5, table.name
        for path in rewritten:
            bucket = layout.bucket_of(identity_id, per_day[path.parent])
            assert path.name == layout.file_name(bucket), path


def test_ids_inside_json_payloads_go_from_the_subjects_own_rows_only(lake_copy):
    """In the subject's rows an id goes from the payload too, as a whole value only; a row of
    someone else whose payload happens to hold the same text (the DSAR filed for "leipzig"
    rewrote 29,058 payloads of 21,292 other identities) is not touched."""
    table = contract.table("raw_events")
    target = storage.data_files(lake_copy, table)[0]
    frame = read_table(lake_copy, "raw_events").head(3).drop(columns=["_file", "event_dt"])
    subject, longer = "idn_00000000a001", "idn_00000000a0012"
    frame["identity_id"] = [subject, "idn_00000000b002", "idn_00000000b003"]
    frame["user_id"] = None
    frame["payload"] = [
        f'{{"self": "{subject}", "other": "{longer}"}}',
        f'{{"city": "{subject}"}}',  # someone else's data that equals the id
        None,
    ]
    extra = target.with_name("part-payload.parquet")
    data = pa.Table.from_pandas(frame, schema=arrow_schema(table), preserve_index=False)
    storage.write_parquet(data, extra)

    con = erasure.connect()
    hits = erasure.scan(con, lake_copy, table, [subject])
    assert [(h.path, h.matching) for h in hits] == [(extra, 1)]
    assert erasure.rewrite(extra, table, [subject], TOMB) == 1
    payloads = pq.read_table(extra).to_pandas().set_index("identity_id")["payload"]
    assert payloads[TOMB] == f'{{"self": "{TOMB}", "other": "{longer}"}}'
    assert payloads["idn_00000000b002"] == f'{{"city": "{subject}"}}'
    after = erasure.scan(con, lake_copy, table, [subject], TOMB)
    assert [(h.matching, h.tombstoned) for h in after] == [(0, 1)]


def test_a_file_without_the_ids_is_left_alone(lake_copy):
    table = contract.table("events")
    path = storage.data_files(lake_copy, table)[0]
    before = path.stat()
    assert erasure.rewrite(path, table, ["idn_nobody"], TOMB) == 0
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_leftovers_of_a_killed_rewrite_are_invisible_then_removed(lake_copy):
    table = contract.table("events")
    path = storage.data_files(lake_copy, table)[0]
    leftover = path.with_name(erasure.ERASE_TMP_PREFIX + path.name)
    leftover.write_bytes(b"half a parquet file")
    assert leftover not in storage.data_files(lake_copy, table)
    assert erasure.remove_stale_rewrites(lake_copy, table) == 1
    assert not leftover.exists() and path.exists()


def test_one_erasure_at_a_time_per_lake(lake_copy):
    with (
        erasure.lake_lock(lake_copy, timeout_s=1),
        pytest.raises(erasure.LakeBusy),
        erasure.lake_lock(lake_copy, timeout_s=0.2),
    ):
        pass
    with erasure.lake_lock(lake_copy, timeout_s=0.2):  # released with its holder
        assert os.path.exists(lake_copy / erasure.LOCK_FILE)
