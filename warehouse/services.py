"""Writes of the warehouse app: submitting, running and finishing query runs."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from portal.roles import scope_key
from warehouse import params as query_params
from warehouse import result_cache, watermark
from warehouse.engines.base import TransientWarehouseError, WarehouseError, checked_sql
from warehouse.engines.registry import get_engine
from warehouse.lake import contract
from warehouse.lake.contract import Access
from warehouse.models import QueryRun
from warehouse.result_cache import CachedResult
from warehouse.sql import CanonicalSql, SqlError, check_params


class DataAccessDenied(PermissionDenied):
    """The query reads data outside the requester's scope. Says nothing about that data."""


@dataclass(frozen=True)
class Submission:
    run: QueryRun | None
    cached: CachedResult | None


def check_access(canonical: CanonicalSql, scope: frozenset[Access]) -> None:
    """Checked from the tables the SQL actually reads, never from a label."""
    for name in canonical.tables:
        try:
            table = contract.table(name)
        except contract.UnknownTable:
            raise SqlError(f"Unknown table {name!r}: it is not in the lake contract.") from None
        if table.access not in scope:
            raise DataAccessDenied("You do not have access to the data this query reads.")


def query_submit(
    *,
    sql: str,
    params: Mapping[str, Any],
    scope: frozenset[Access],
    user=None,
    engine: str | None = None,
    label: str = "",
    force_refresh: bool = False,
    enqueue: bool = True,
) -> Submission:
    """Serve from the cache, join an identical run in flight, or queue a new run.

    ``enqueue=False`` is for callers that run the query themselves (see query_run_sync).
    """
    engine = engine or settings.WAREHOUSE
    canonical = checked_sql(sql)
    check_params(canonical, params)
    check_access(canonical, scope)

    encoded = query_params.encode(params)
    mark = watermark.current(engine)
    key = result_cache.cache_key(
        engine=engine,
        sql_hash=canonical.version_hash,
        params=encoded,
        scope=scope_key(scope),
        watermark=mark.token,
    )
    if not force_refresh and (cached := result_cache.get(key)) is not None:
        return Submission(run=None, cached=cached)
    if (in_flight := _in_flight(key)) is not None:
        return Submission(run=in_flight, cached=None)
    try:
        with transaction.atomic():
            run = QueryRun.objects.create(
                engine=engine,
                label=label,
                sql_hash=canonical.version_hash,
                canonical_sql=canonical.text,
                params=encoded,
                scope=scope_key(scope),
                tables=sorted(canonical.tables),
                cache_key=key,
                watermark=mark.token,
                force_refresh=force_refresh,
                requested_by=user if user is not None and user.is_authenticated else None,
            )
            if enqueue:
                transaction.on_commit(lambda: _enqueue(run.pk))
    except IntegrityError:
        # Lost the race to an identical request: wait on its run instead.
        in_flight = _in_flight(key)
        if in_flight is None:
            raise
        return Submission(run=in_flight, cached=None)
    return Submission(run=run, cached=None)


def _in_flight(key: str) -> QueryRun | None:
    return QueryRun.objects.filter(cache_key=key, status__in=QueryRun.IN_FLIGHT).first()


def _enqueue(run_id: int) -> None:
    from warehouse.tasks import run_query

    run_query.delay(run_id)


def query_run_execute(*, run_id: int) -> QueryRun | None:
    """Run a queued query on its engine and cache the result. Returns None if not runnable.

    Only a queued run starts: a run already running elsewhere is never run twice.
    """
    started = QueryRun.objects.filter(pk=run_id, status=QueryRun.Status.QUEUED).update(
        status=QueryRun.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not started:
        return None
    run = QueryRun.objects.get(pk=run_id)
    try:
        result = get_engine(run.engine).run(run.canonical_sql, query_params.decode(run.params))
    except ImproperlyConfigured as err:
        return query_run_fail(run_id=run_id, error=f"Engine {run.engine} is not configured: {err}")
    except TransientWarehouseError:
        QueryRun.objects.filter(pk=run_id).update(status=QueryRun.Status.QUEUED)
        raise
    except (WarehouseError, SqlError) as err:
        return query_run_fail(run_id=run_id, error=str(err))

    finished = timezone.now()
    mark = watermark.current(run.engine)
    result_cache.put(
        run.cache_key,
        CachedResult(
            frame=result.frame,
            run_id=run.pk,
            cached_at=finished,
            watermark=run.watermark,
            data_as_of=mark.max_partition,
        ),
    )
    stats = result.stats
    QueryRun.objects.filter(pk=run_id).update(
        status=QueryRun.Status.SUCCEEDED,
        finished_at=finished,
        translated_sql=stats.translated_sql,
        rows=stats.rows,
        bytes_scanned=stats.bytes_scanned,
        cost_usd=stats.cost_usd,
        engine_query_id=stats.engine_query_id or "",
        error="",
    )
    run.refresh_from_db()
    return run


def query_run_fail(*, run_id: int, error: str) -> QueryRun:
    QueryRun.objects.filter(pk=run_id, status__in=QueryRun.IN_FLIGHT).update(
        status=QueryRun.Status.FAILED, finished_at=timezone.now(), error=error[:10_000]
    )
    return QueryRun.objects.get(pk=run_id)


def query_runs_fail_stale() -> int:
    """Fail runs in flight for longer than any run may take (a worker died under them)."""
    limit = timedelta(seconds=settings.QUERY_TIME_LIMIT_SECONDS * 2 + 60)
    return QueryRun.objects.filter(
        status__in=QueryRun.IN_FLIGHT, queued_at__lt=timezone.now() - limit
    ).update(
        status=QueryRun.Status.FAILED,
        finished_at=timezone.now(),
        error="The run did not finish in time; its worker may have died. Run it again.",
    )


class QueryFailed(Exception):
    def __init__(self, run: QueryRun):
        super().__init__(run.error or f"query run {run.pk} did not finish")
        self.run = run


def query_run_sync(
    *,
    sql: str,
    params: Mapping[str, Any],
    scope: frozenset[Access],
    label: str = "",
    engine: str | None = None,
    force_refresh: bool = False,
) -> CachedResult:
    """For jobs already on a worker: the result now, from the cache, an identical run in flight,
    or a run executed in this process. Recorded as a query run like any other."""
    submission = query_submit(
        sql=sql,
        params=params,
        scope=scope,
        engine=engine,
        label=label,
        force_refresh=force_refresh,
        enqueue=False,
    )
    if submission.cached is not None:
        return submission.cached
    run = query_run_execute(run_id=submission.run.pk)
    if run is None:  # someone else is running it: wait for theirs
        from warehouse.selectors import run_wait

        run = run_wait(run_id=submission.run.pk, timeout_s=settings.QUERY_TIME_LIMIT_SECONDS + 30)
    cached = result_cache.get(run.cache_key) if run.status == QueryRun.Status.SUCCEEDED else None
    if cached is None:
        raise QueryFailed(run)
    return cached
