"""Reads of the warehouse app."""

import time
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from portal.roles import Access, data_scope
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


# Label prefix -> whether a user may open the page that submits runs of that label. A page may
# be narrower than the tables it reads (experiments are for their readers, the PII check for the
# privacy team): its runs are then no wider. Apps register their pages in AppConfig.ready.
_RUN_PAGES: dict[str, Callable[[Any], bool]] = {}


def run_page_register(*, label_prefix: str, may_open: Callable[[Any], bool]) -> None:
    _RUN_PAGES[label_prefix] = may_open


def run_readable(run: QueryRun, user) -> bool:
    """Whether ``user`` may read the run: every table it read is in their scope, and they may
    open the page it serves (a run of no registered page: the tables decide)."""
    if not run_visible(run, data_scope(user)):
        return False
    return all(may(user) for prefix, may in _RUN_PAGES.items() if run.label.startswith(prefix))


def runs_readable(user, limit: int = 100) -> list[QueryRun]:
    runs: QuerySet[QueryRun] = QueryRun.objects.select_related("requested_by")[: limit * 2]
    return [run for run in runs if run_readable(run, user)][:limit]


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
