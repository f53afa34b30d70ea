"""Results of query runs in the shared cache (Redis in production, files under var/ embedded).

The key holds everything that can change an answer: engine, SQL version, bound parameters, the
requester's data-access scope and the lake watermark. New data therefore means new keys; the old
entries are never read again and age out with the TTL.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256

import pandas as pd
from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class CachedResult:
    frame: pd.DataFrame
    run_id: int
    cached_at: datetime
    watermark: str
    data_as_of: str | None
    # The JSON form, built once when the result is cached, so cache hits only copy it out.
    payload: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", frame_payload(self.frame))


# Bumped whenever CachedResult changes shape, so a deploy never reads entries it can't use.
FORMAT_VERSION = 3


def cache_key(*, engine: str, sql_hash: str, params: dict, scope: str, watermark: str) -> str:
    material = json.dumps(
        [FORMAT_VERSION, engine, sql_hash, params, scope, watermark], sort_keys=True
    )
    return "qr:" + sha256(material.encode()).hexdigest()[:40]


def get(key: str) -> CachedResult | None:
    return cache.get(key)


def put(key: str, result: CachedResult) -> None:
    cache.set(key, result, timeout=settings.RESULT_CACHE_TTL_SECONDS)


def frame_payload(frame: pd.DataFrame) -> dict:
    """A JSON-ready {columns, rows} form of a result; dates as ISO strings, NaN as null."""
    split = json.loads(frame.to_json(orient="split", date_format="iso", index=False))
    return {"columns": split["columns"], "rows": split["data"]}
