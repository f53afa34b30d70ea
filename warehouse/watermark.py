"""The data watermark of the active warehouse: changes whenever the data does."""

from hashlib import sha256

from django.conf import settings
from django.core.cache import cache

from warehouse.lake.storage import Watermark, read_watermark

REMOTE_KEY = "warehouse:watermark:{engine}"


def current(engine: str) -> Watermark:
    # The embedded lake records its own watermark on every publish. Remote warehouses are told
    # through the cache by whatever loads them (`manage.py warehouse_watermark`).
    if engine == "duckdb":
        return read_watermark(settings.LAKE_ROOT)
    return cache.get(REMOTE_KEY.format(engine=engine)) or Watermark("remote", None)


def remote_changed(engine: str, tag: str) -> Watermark:
    """A remote warehouse's data changed outside a load (rows deleted by retention, say): its
    watermark moves, so no result cached on the old data is served. Set even when no load has
    set one, since results are cached under the default watermark too."""
    key = REMOTE_KEY.format(engine=engine)
    mark = cache.get(key) or Watermark("remote", None)
    moved = Watermark(changed_version(mark.version, tag), mark.max_partition)
    cache.set(key, moved, None)
    return moved


def changed_version(version: str, tag: str) -> str:
    """``<load>+<changes since the load>.<digest of them>``: new at every change, of bounded
    length however many changes there are, and it still says how many there were."""
    base, _, since = version.partition("+")
    count = since.split(".", 1)[0]
    changes = int(count) + 1 if count.isdigit() else 1
    digest = sha256(f"{version}|{tag}".encode()).hexdigest()[:12]
    return f"{base}+{changes}.{digest}"
