"""Reads of the warehouse app."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

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


def runs_readable(user) -> QuerySet[QueryRun]:
    """The runs ``user`` may read, filtered in the query (unordered): hidden runs never take
    the place of readable ones on a page. Callers still check each run they show with
    run_readable: a table dropped from the contract since cannot be named here."""
    scope = data_scope(user)
    runs: QuerySet[QueryRun] = QueryRun.objects.select_related("requested_by").annotate(
        tables_text=Cast("tables", TextField())
    )
    for relation in (*contract.TABLES.values(), *contract.VIEWS.values()):
        if relation.access not in scope:
            # Names are [a-z0-9_]: the quoted name matches that list element only.
            runs = runs.exclude(tables_text__contains=f'"{relation.name}"')
    for prefix, may in _RUN_PAGES.items():
        if not may(user):
            runs = runs.exclude(label__startswith=prefix)
    return runs


def run_result(run: QueryRun) -> CachedResult | None:
    if run.status != QueryRun.Status.SUCCEEDED:
        return None
    return result_cache.get(run.cache_key)


def run_failed(run_id: str | None, user) -> QueryRun | None:
    """The run a page was waiting for (its ``run`` parameter) if it failed and ``user`` may read
    it: reloading the page then shows the failure instead of asking again."""
    if not run_id or not run_id.isdigit():
        return None
    run = QueryRun.objects.filter(pk=int(run_id), status=QueryRun.Status.FAILED).first()
    return run if run is not None and run_readable(run, user) else None


def without_server_paths(text: str) -> str:
    """``text`` (a status, an engine's error) with the lake's location on the server as "lake"
    (statuses written before they were relative, errors that name a file)."""
    root = str(settings.LAKE_ROOT)
    return text.replace(f"{root}/", "lake ").replace(root, "lake")
