"""Ids that look random but are unique and reproducible: a 48-bit bijection of a counter and a
salt derived from the seed."""

import hashlib

import numpy as np
import pyarrow as pa

_M48 = np.uint64((1 << 48) - 1)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_SHIFTS = np.arange(44, -1, -4, dtype=np.uint64)


def mix48(x: np.ndarray) -> np.ndarray:
    """A bijection on 48-bit integers: distinct counters give distinct, random-looking ids."""
    z = x & _M48
    for mult, shift in ((0x9E3779B97F4B, 23), (0xBF58476D1CE5, 21), (0x94D049BB1331, 24)):
        z = (z * np.uint64(mult)) & _M48
        z ^= z >> np.uint64(shift)
    return z


def salt(seed: int, kind: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}:{kind}".encode(), digest_size=6).digest()
    return np.uint64(int.from_bytes(digest, "big"))


def make_ids(prefix: str, counters: np.ndarray, salt: np.uint64) -> pa.Array:
    """``prefix`` + 12 hex digits, unique per distinct counter, built without a Python loop."""
    z = mix48(counters.astype(np.uint64) + salt)
    head = prefix.encode()
    width = len(head) + 12
    buf = np.empty((len(z), width), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    for i, shift in enumerate(_SHIFTS):  # one hex digit at a time keeps temporaries small
        buf[:, len(head) + i] = _HEX[((z >> shift) & np.uint64(15)).astype(np.intp)]
    offsets = np.arange(0, (len(z) + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(len(z), pa.py_buffer(offsets), pa.py_buffer(buf))
