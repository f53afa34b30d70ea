"""The data watermark of the active warehouse: the version of each table's data.

A cached result is keyed by the versions of exactly the tables its query reads (token_for), so
a write moves the results that read what it changed and no others.
"""

import json
from collections.abc import Iterable
from hashlib import sha256

from django.conf import settings
from django.core.cache import cache

from warehouse.lake import contract
from warehouse.lake.storage import Watermark, changed_tables, new_version, read_watermark
from warehouse.lake.views import base_tables

REMOTE_KEY = "warehouse:watermark:{engine}"
REMOTE_TABLE_KEY = "warehouse:watermark:{engine}:table:{table}"


def current(engine: str, tables: Iterable[str] | None = None) -> Watermark:
    """The warehouse's watermark; ``tables``: only those tables' versions are needed.

    The embedded lake records its own on every publish. Remote warehouses are told through the
    cache: of everything by whatever loads them (`manage.py warehouse_watermark`), of a table by
    the portal's own writes to it (remote_changed)."""
    if engine == "duckdb":
        return read_watermark(settings.LAKE_ROOT)
    load = cache.get(REMOTE_KEY.format(engine=engine)) or Watermark("remote", None)
    names = contract.TABLES if tables is None else base_tables(tables)
    keys = {REMOTE_TABLE_KEY.format(engine=engine, table=name): name for name in names}
    versions = cache.get_many(list(keys))
    return Watermark(
        load.version,
        load.max_partition,
        load.epoch,
        tuple(sorted((keys[key], version) for key, version in versions.items())),
    )


def token_for(mark: Watermark, tables: Iterable[str]) -> str:
    """The version of the data a query reading ``tables`` sees (a view's name stands for the
    tables it reads): it moves when one of them changes, and only then."""
    names = sorted(base_tables(tables))
    material = json.dumps([mark.base, [[name, mark.table_version(name)] for name in names]])
    return sha256(material.encode()).hexdigest()[:24]


def remote_changed(engine: str, tag: str, tables: Iterable[str] | None = None) -> Watermark:
    """A remote warehouse's data changed outside a load (rows deleted by retention, say): the
    versions of ``tables`` move (of every table when None), so no result cached on their old
    data is served. Set even when no load has set a watermark, since results are cached under
    the default one too.

    A key per table: writers changing different tables at once never undo each other."""
    if tables is None:
        key = REMOTE_KEY.format(engine=engine)
        mark = cache.get(key) or Watermark("remote", None)
        cache.set(key, Watermark(changed_version(mark.version, tag), mark.max_partition), None)
        return current(engine)
    names = changed_tables(tables)
    version = f"{tag}@{new_version()}"
    cache.set_many(
        {REMOTE_TABLE_KEY.format(engine=engine, table=name): version for name in names}, None
    )
    return current(engine)


def changed_version(version: str, tag: str) -> str:
    """``<load>+<changes since the load>.<digest of them>``: new at every change, of bounded
    length however many changes there are, and it still says how many there were."""
    base, _, since = version.partition("+")
    count = since.split(".", 1)[0]
    changes = int(count) + 1 if count.isdigit() else 1
    digest = sha256(f"{version}|{tag}".encode()).hexdigest()[:12]
    return f"{base}+{changes}.{digest}"
