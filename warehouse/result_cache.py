"""Results of query runs in the shared cache (Redis in production, files under var/ embedded).

The key holds everything that can change an answer: engine, SQL version, bound parameters, the
requester's data-access scope and the watermark of the tables the SQL reads
(warehouse.watermark.token_for). New data in those tables therefore means new keys; the old
entries are never read again and age out with the TTL. Results reading other tables keep theirs.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from hashlib import sha256

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from warehouse.lake.views import base_tables
from warehouse.models import QueryRun


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


def drop_reading(*, tables: Iterable[str], params_containing: str = "") -> int:
    """Delete the cached results of recent runs that read any of ``tables`` (a view: the tables
    it reads), or whose parameters contain ``params_containing``; returns how many keys went.

    For erasures: such results may hold the erased data, which must not stay in the cache even
    where no key computed from now on would find it. Results of other tables cannot."""
    since = timezone.now() - timedelta(seconds=settings.RESULT_CACHE_TTL_SECONDS + 3600)
    recent = QueryRun.objects.filter(queued_at__gte=since)
    changed = base_tables(tables)
    keys = {
        key
        for key, read in recent.values_list("cache_key", "tables").iterator()
        if base_tables(read) & changed
    }
    if params_containing:
        named = recent.annotate(text=Cast("params", TextField()))
        named = named.filter(text__contains=params_containing)
        keys |= set(named.values_list("cache_key", flat=True))
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        cache.delete_many(ordered[start : start + 500])
    return len(ordered)


def frame_payload(frame: pd.DataFrame) -> dict:
    """A JSON-ready {columns, rows} form of a result; dates as ISO strings, NaN as null."""
    split = json.loads(frame.to_json(orient="split", date_format="iso", index=False))
    return {"columns": split["columns"], "rows": split["data"]}
