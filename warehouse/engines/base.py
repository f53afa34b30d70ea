"""The one interface every warehouse engine implements: canonical SQL and bound params in,
a result frame and run statistics out."""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import pandas as pd

from warehouse.lake.contract import partitioned_tables
from warehouse.sql import CanonicalSql, check_params, check_partition_filters, parse, translate


class WarehouseError(Exception):
    """The engine rejected or failed the query; the message is the engine's own."""


class TransientWarehouseError(WarehouseError):
    """A failure worth retrying (connection dropped, throttled, engine busy)."""


class ScanTooLarge(WarehouseError):
    """The query would scan (or did scan) more than one query may: QUERY_MAX_BYTES_SCANNED."""


@dataclass(frozen=True)
class RunStats:
    engine: str
    translated_sql: str
    elapsed_s: float
    rows: int
    bytes_scanned: int | None = None
    cost_usd: float | None = None
    engine_query_id: str | None = None


@dataclass(frozen=True)
class QueryResult:
    frame: pd.DataFrame
    stats: RunStats


class Engine(Protocol):
    name: str
    dialect: str

    def run(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        """Parse, check, translate and run one canonical query with ``params`` bound."""
        ...

    def ping(self) -> None:
        """Raise WarehouseError when the engine cannot be reached."""
        ...


def checked_sql(sql: str) -> CanonicalSql:
    """Parsed, with the partition rule checked; cached, since the same SQL comes back often.
    (A refusal raises and is not cached.)"""
    return _checked_sql(sql, frozenset(partitioned_tables().items()))


@lru_cache(maxsize=512)
def _checked_sql(sql: str, partitioned: frozenset[tuple[str, str]]) -> CanonicalSql:
    canonical = parse(sql)
    check_partition_filters(canonical.tree, dict(partitioned))
    return canonical


def prepare(sql: str, params: Mapping[str, Any], dialect: str) -> tuple[CanonicalSql, str]:
    """Every engine's first step: parse, check parameters and the partition rule, translate."""
    canonical = checked_sql(sql)
    check_params(canonical, params)
    return canonical, translate(canonical, dialect)
