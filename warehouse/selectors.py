"""Reads of the warehouse app."""

import time

from django.db.models import QuerySet

from portal.roles import Access
from warehouse import result_cache
from warehouse.lake import contract
from warehouse.models import QueryRun
from warehouse.result_cache import CachedResult


def run_visible(run: QueryRun, scope: frozenset[Access]) -> bool:
    """Whether every table the run read is within ``scope`` (unknown tables: no)."""
    try:
        return all(contract.table(name).access in scope for name in run.tables)
    except contract.UnknownTable:
        return False


def runs_visible(scope: frozenset[Access], limit: int = 100) -> list[QueryRun]:
    runs: QuerySet[QueryRun] = QueryRun.objects.select_related("requested_by")[: limit * 2]
    return [run for run in runs if run_visible(run, scope)][:limit]


def run_result(run: QueryRun) -> CachedResult | None:
    if run.status != QueryRun.Status.SUCCEEDED:
        return None
    return result_cache.get(run.cache_key)


def run_wait(*, run_id: int, timeout_s: float, poll_s: float = 0.02) -> QueryRun:
    """Poll until the run finishes or ``timeout_s`` passes; returns the run as it is then."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = QueryRun.objects.get(pk=run_id)
        if run.is_finished or time.monotonic() >= deadline:
            return run
        time.sleep(poll_s)
