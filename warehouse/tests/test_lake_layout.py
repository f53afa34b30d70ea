import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.lake import layout, storage


@pytest.mark.parametrize(
    ("rows", "per_file", "buckets"),
    [(0, 100, 1), (100, 100, 1), (101, 100, 2), (400, 100, 4), (401, 100, 8), (800_001, 10**5, 16)],
)
def test_bucket_count_is_the_least_power_of_two_keeping_files_at_the_target(
    rows, per_file, buckets
):
    assert layout.bucket_count(rows, per_file) == buckets


def test_bucket_count_refuses_a_target_below_one_row():
    with pytest.raises(ValueError, match="rows_per_file"):
        layout.bucket_count(10, 0)


@pytest.mark.parametrize(
    ("text", "digest"),
    # The published FNV-1a 64-bit test vectors.
    [("", 0xCBF29CE484222325), ("a", 0xAF63DC4C8601EC8C), ("foobar", 0x85944171F73967E8)],
)
def test_bucket_of_is_the_fnv1a_hash_modulo_the_buckets(text, digest):
    assert layout.bucket_of(text, 2**64) == digest
    assert layout.bucket_of(text, 16) == digest % 16
    assert layout.bucket_of(None, 16) == 0


def test_split_keeps_every_row_in_its_order_in_the_bucket_of_its_id():
    ids = [f"idn_{i:04d}" if i % 7 else None for i in range(2_000)]
    data = pa.table({"identity_id": ids, "n": list(range(2_000))})
    parts = layout.split(data, "identity_id", 8)
    assert len(parts) == 8
    seen = []
    for bucket, part in enumerate(parts):
        rows = part.to_pylist()
        assert all(layout.bucket_of(r["identity_id"], 8) == bucket for r in rows)
        numbers = [r["n"] for r in rows]
        assert numbers == sorted(numbers)
        seen += numbers
    assert sorted(seen) == list(range(2_000))
    assert parts[0].num_rows >= sum(1 for i in ids if i is None)
    assert min(p.num_rows for p in parts) > 0  # the hash spreads the ids


def test_split_hashes_any_text_as_bucket_of_does():
    ids = ["", "a", "ß", "idn_émile", "x" * 300, None, "usr_0001"] * 3
    data = pa.chunked_array([ids[:10], ids[10:]])  # chunks and a sliced array
    table = pa.table({"user_id": data}).slice(1)
    parts = layout.split(table, "user_id", 5)
    for bucket, part in enumerate(parts):
        assert all(layout.bucket_of(v, 5) == bucket for v in part.column(0).to_pylist())
    assert sum(p.num_rows for p in parts) == len(ids) - 1


def test_split_refuses_no_buckets_and_leaves_one_whole():
    data = pa.table({"identity_id": ["a", "b"]})
    with pytest.raises(ValueError, match="at least 1"):
        layout.split(data, "identity_id", 0)
    assert layout.split(data, "identity_id", 1) == [data]


def test_lake_files_delta_encode_timestamps_and_dictionary_encode_the_rest(tmp_path):
    data = pa.table(
        {
            "ts": pa.array(range(0, 50_000_000, 1_000), pa.timestamp("us")),
            "name": ["a", "b"] * 25_000,
        }
    )
    path = storage.write_parquet(data, tmp_path / "part-00000.parquet")
    meta = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(2)}
    assert "DELTA_BINARY_PACKED" in encodings["ts"]
    assert "RLE_DICTIONARY" in encodings["name"]
    assert meta.column(0).compression == "ZSTD"
    assert pq.read_table(path).equals(data)


def test_a_partition_is_one_file_until_it_outgrows_it_then_bucket_files():
    data = pa.table({"identity_id": [f"idn_{i}" for i in range(250)]})
    assert [name for name, _ in layout.files(data, "identity_id", 250)] == ["part-00000.parquet"]
    split = layout.files(data, "identity_id", 100)
    assert [name for name, _ in split] == [f"part-0000{i}.parquet" for i in range(4)]
    assert sum(part.num_rows for _, part in split) == 250
    # A table without an id column to bucket by keeps one file, however big.
    assert [name for name, _ in layout.files(data, None, 100)] == ["part-00000.parquet"]
