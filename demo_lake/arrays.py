"""Column helpers every domain uses: vocabularies, JSON payloads, weighted draws, expansions."""

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def vocab(values: tuple[str, ...] | list[str]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def take(vocabulary: pa.Array, codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Strings for integer codes (codes are generated as integers, written as strings)."""
    return vocabulary.take(pa.array(np.asarray(codes, dtype=np.int32), mask=null))


def const(value: str, n: int) -> pa.Array:
    return take(vocab([value]), np.zeros(n, dtype=np.int32))


def to_text(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def json_objects(*fields: tuple[str, Any, bool]) -> pa.Array:
    """JSON objects built column-wise from (key, array-or-str, quoted) fields."""
    pieces: list[Any] = []
    literal = "{"
    for i, (key, value, quoted) in enumerate(fields):
        quote = '"' if quoted else ""
        literal += ("," if i else "") + f'"{key}":{quote}'
        if isinstance(value, str):
            literal += value + quote
        else:
            pieces += [pa.scalar(literal), value]
            literal = quote
    pieces += [pa.scalar(literal + "}"), pa.scalar("")]
    return pc.binary_join_element_wise(*pieces)


def choice(rng: np.random.Generator, p: np.ndarray | list[float], n: int) -> np.ndarray:
    cdf = np.cumsum(p, dtype=np.float64)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right").astype(np.int32)


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner index, rank within owner) for ``counts[i]`` children of each owner i."""
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - np.repeat(first, counts)


def latest(
    ident: np.ndarray,
    at: np.ndarray,
    value: np.ndarray,
    q_ident: np.ndarray,
    q_at: np.ndarray,
    base: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query (identity, time): is there a row of that identity at or before the time,
    and the value of the latest such row. Times must lie within two days after ``base``."""
    if len(ident) == 0 or len(q_ident) == 0:
        return np.zeros(len(q_ident), dtype=bool), np.zeros(len(q_ident), dtype=value.dtype)
    key = (ident.astype(np.int64) << 38) | (at - base)
    order = np.argsort(key, kind="stable")
    pos = np.searchsorted(key[order], (q_ident.astype(np.int64) << 38) | (q_at - base), "right")
    pos = np.maximum(pos - 1, 0)
    found = (pos < len(order)) & (ident[order][pos] == q_ident) & (at[order][pos] <= q_at)
    return found, value[order][pos]


def weighted_pick(rng: np.random.Generator, cum: np.ndarray, upto: int, n: int) -> np.ndarray:
    """Indices below ``upto`` drawn in proportion to the weights whose cumsum is ``cum``."""
    if upto == 0 or n == 0 or cum[upto - 1] <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.searchsorted(cum[:upto], rng.random(n) * cum[upto - 1], side="right")
