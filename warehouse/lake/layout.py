"""How a partition's rows are laid out in Parquet files: split into buckets, and encoded.

A partition holding more than ``ROWS_PER_FILE`` rows is split into a power of two of files by a
hash of the table's bucket column (like Iceberg's ``bucket`` transform), ``part-00000.parquet``,
``part-00001.parquet`` and so on. One identity's rows of a day then sit in one small file, and a
DSAR erasure rewrites that file instead of the whole day. Readers see the same rows either way.

Timestamps are delta-encoded (sorted within a file, they compress to a fraction of their
dictionary encoding); every other column keeps Parquet's dictionary encoding.
"""

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROWS_PER_FILE = 100_000
COMPRESSION = "zstd"


def file_name(bucket: int) -> str:
    return f"part-{bucket:05d}.parquet"


def bucket_count(rows: int, rows_per_file: int = ROWS_PER_FILE) -> int:
    """The fewest files, a power of two, that keep a partition of ``rows`` rows at about
    ``rows_per_file`` rows each. Powers of two nest: bucket b of k files is buckets b and b + k
    of 2k, so a partition that grows can be split file by file."""
    if rows_per_file < 1:
        raise ValueError("rows_per_file must be at least 1")
    buckets = 1
    while rows > buckets * rows_per_file:
        buckets *= 2
    return buckets


# FNV-1a, 64 bits: simple enough to compute over a whole column with numpy, and stable.
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def bucket_of(value: str | None, buckets: int) -> int:
    """The bucket of one id: the FNV-1a hash (64 bits) of its UTF-8 bytes modulo ``buckets``
    (a null id goes to bucket 0)."""
    if value is None:
        return 0
    digest = FNV_OFFSET
    for byte in value.encode():
        digest = ((digest ^ byte) * FNV_PRIME) % 2**64
    return digest % buckets


def _buckets(ids: pa.ChunkedArray | pa.Array, buckets: int) -> np.ndarray:
    """bucket_of for a whole column, one byte position at a time."""
    values = pc.cast(ids, pa.large_string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    offsets = np.frombuffer(values.buffers()[1], np.int64)[
        values.offset : values.offset + len(values) + 1
    ]
    text = values.buffers()[2]
    data = np.frombuffer(text, np.uint8) if text is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    digest = np.full(len(values), FNV_OFFSET, np.uint64)
    for position in range(int(lengths.max(initial=0))):
        live = lengths > position
        byte = data[starts[live] + position].astype(np.uint64)
        digest[live] = (digest[live] ^ byte) * np.uint64(FNV_PRIME)  # wraps modulo 2**64
    bucket = digest % np.uint64(buckets)
    bucket[values.is_null().to_numpy(zero_copy_only=False)] = 0
    return bucket.astype(np.int64)


def split(data: pa.Table, column: str, buckets: int) -> list[pa.Table]:
    """``data`` split into ``buckets`` tables by ``bucket_of(column)``, each keeping the rows'
    order."""
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, not {buckets}")
    if buckets == 1:
        return [data]
    bucket = _buckets(data.column(column), buckets)
    # One stable sort and one copy, then zero-copy slices.
    ordered = data.take(np.argsort(bucket, kind="stable"))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(bucket, minlength=buckets))])
    return [ordered.slice(int(bounds[b]), int(bounds[b + 1] - bounds[b])) for b in range(buckets)]


def files(
    data: pa.Table, column: str | None, rows_per_file: int = ROWS_PER_FILE
) -> list[tuple[str, pa.Table]]:
    """The files of one partition, as (file name, rows): split by ``column`` when it is too big
    for one file (a table without a bucket column keeps one file)."""
    buckets = bucket_count(data.num_rows, rows_per_file) if column else 1
    parts = split(data, column, buckets) if column else [data]
    return [(file_name(bucket), part) for bucket, part in enumerate(parts)]


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Keyword arguments of ``pyarrow.parquet.write_table`` for every lake file."""
    stamps = [f.name for f in schema if pa.types.is_timestamp(f.type)]
    return {
        "compression": COMPRESSION,
        "use_dictionary": [f.name for f in schema if f.name not in stamps],
        "column_encoding": dict.fromkeys(stamps, "DELTA_BINARY_PACKED"),
    }
