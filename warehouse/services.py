"""Writes of the warehouse app: submitting, running and finishing query runs."""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from core.errors import LimitReached
from portal.lease import lease_renewed
from portal.roles import Access, scope_key, user_roles
from warehouse import params as query_params
from warehouse import personal_data, result_cache, run_events, watermark
from warehouse.engines.base import TransientWarehouseError, WarehouseError, checked_sql
from warehouse.engines.registry import get_engine
from warehouse.lake import contract
from warehouse.models import QueryRun
from warehouse.result_cache import CachedResult
from warehouse.selectors import run_result
from warehouse.sql import CanonicalSql, SqlError, check_params, parse


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


class RunLimitReached(LimitReached):
    """The user already has as many runs queued or running as one person may (429)."""

    def __init__(self, *, limit: int, in_flight: int):
        self.limit, self.in_flight = limit, in_flight
        super().__init__(
            f"You have {in_flight} queries queued or running; the limit is {limit} per person. "
            "Ask again when one of them has finished."
        )

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "limit": self.limit, "in_flight": self.in_flight}


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
    """Serve from the cache, join an identical run in flight (taking it over if its lease
    expired), or queue a new run. Raises RunLimitReached when ``user`` has
    QUERY_USER_MAX_IN_FLIGHT runs in flight already.

    ``force_refresh`` is honoured only as _force_refresh_honoured says; otherwise the cached
    result is served. ``enqueue=False`` is for callers that run the query themselves (see
    query_run_sync).
    """
    engine = engine or settings.WAREHOUSE
    canonical = checked_sql(sql)
    check_params(canonical, params)
    check_access(canonical, scope)

    encoded = query_params.encode(params)
    # The versions of the tables it reads only: a write elsewhere leaves its result served.
    token = watermark.token_for(watermark.current(engine, canonical.tables), canonical.tables)
    key = result_cache.cache_key(
        engine=engine,
        sql_hash=canonical.version_hash,
        params=encoded,
        scope=scope_key(scope),
        watermark=token,
    )
    cached = result_cache.get(key)
    forced = cached is not None and force_refresh and _force_refresh_honoured(user, cached)
    if cached is not None and not forced:
        return Submission(run=None, cached=cached)
    if (in_flight := _in_flight(key)) is not None and _still_in_flight(in_flight, enqueue):
        return Submission(run=in_flight, cached=None)
    # A run may have finished between the cache read and the in-flight look (it writes the
    # cache, then leaves flight): read again rather than run the same query twice.
    if not forced and (cached := result_cache.get(key)) is not None:
        return Submission(run=None, cached=cached)
    requester = user if user is not None and user.is_authenticated else None
    try:
        with transaction.atomic():
            _check_in_flight_cap(requester)
            run = QueryRun.objects.create(
                engine=engine,
                label=label,
                sql_hash=canonical.version_hash,
                canonical_sql=canonical.text,
                params=encoded,
                scope=scope_key(scope),
                tables=sorted(canonical.tables),
                cache_key=key,
                watermark=token,
                force_refresh=forced,
                requested_by=requester,
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


def _force_refresh_honoured(user, cached: CachedResult) -> bool:
    """Whether a forced refresh of ``cached`` runs the scan again: always for jobs (no user);
    for a person, only with a role in QUERY_FORCE_REFRESH_ROLES, for a result older than
    QUERY_FORCE_REFRESH_MIN_AGE_SECONDS, and QUERY_FORCE_REFRESH_PER_HOUR times an hour."""
    if user is None:
        return True
    if not user_roles(user) & set(settings.QUERY_FORCE_REFRESH_ROLES):
        return False
    now = timezone.now()
    if now - cached.cached_at < timedelta(seconds=settings.QUERY_FORCE_REFRESH_MIN_AGE_SECONDS):
        return False
    forced = QueryRun.objects.filter(
        requested_by=user, force_refresh=True, queued_at__gte=now - timedelta(hours=1)
    )
    return forced.count() < settings.QUERY_FORCE_REFRESH_PER_HOUR


def _check_in_flight_cap(user) -> None:
    """Inside the transaction that queues the run; the user's row is locked so that two
    requests of one person at once cannot both take the last place."""
    limit = settings.QUERY_USER_MAX_IN_FLIGHT
    if user is None or limit <= 0:
        return
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    in_flight = QueryRun.objects.filter(requested_by=user, status__in=QueryRun.IN_FLIGHT).count()
    if in_flight >= limit:
        raise RunLimitReached(limit=limit, in_flight=in_flight)


def _in_flight(key: str) -> QueryRun | None:
    return QueryRun.objects.filter(cache_key=key, status__in=QueryRun.IN_FLIGHT).first()


def _still_in_flight(run: QueryRun, enqueue: bool) -> bool:
    """Take ``run`` over if its lease expired; False if it had to be given up (failed)."""
    return run_take_over(run=run, enqueue=enqueue) != QueryRun.Status.FAILED


def _enqueue(run_id: int) -> None:
    # Here, not at the top: warehouse.tasks imports this module (a task calls one service).
    from warehouse.tasks import run_query

    run_query.delay(run_id)


def _lease_start(now: datetime) -> datetime:
    """Runs whose lease (heartbeat_at) is older than this have expired."""
    return now - timedelta(seconds=settings.QUERY_RUN_LEASE_SECONDS)


def _gave_up(attempts: int) -> str:
    return (
        f"Gave up after {attempts} attempts: each time, the worker running the query stopped "
        "before it finished (killed, out of memory, or its message was lost). Run it again."
    )


def run_take_over(*, run: QueryRun, enqueue: bool = True) -> str | None:
    """If ``run`` (as read) is in flight with an expired lease, put it back in the queue and
    send it again, or fail it when it has used QUERY_RUN_MAX_ATTEMPTS attempts. Returns the new
    status, or None when there was nothing to do (lease alive, or someone else acted first).

    Compare-and-set on the row as read: of several callers at once, one acts. A queued run is
    sent again when its last message is older than the lease and than half the run's age, so
    that runs waiting in a long queue are not sent over and over."""
    now = timezone.now()
    if run.status not in QueryRun.IN_FLIGHT or run.heartbeat_at >= _lease_start(now):
        return None
    if run.status == QueryRun.Status.QUEUED and (
        now - run.heartbeat_at < (now - run.queued_at) / 2
    ):
        return None
    as_read = QueryRun.objects.filter(
        pk=run.pk, status=run.status, heartbeat_at=run.heartbeat_at, attempts=run.attempts
    )
    if run.attempts >= settings.QUERY_RUN_MAX_ATTEMPTS:
        failed = as_read.update(
            status=QueryRun.Status.FAILED, finished_at=now, error=_gave_up(run.attempts)
        )
        if not failed:
            return None
        run_events.run_finished(run.pk)
        return QueryRun.Status.FAILED
    if not as_read.update(status=QueryRun.Status.QUEUED, heartbeat_at=now):
        return None
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.pk))
    return QueryRun.Status.QUEUED


def query_run_execute(*, run_id: int) -> QueryRun | None:
    """Run a queued run, or take over a running one whose lease expired, on its engine and
    cache the result; the lease is renewed while the engine works. Returns None if the run is
    not this call's to run (finished, or running elsewhere with a live lease).

    Only the holder of the current attempt writes the outcome: a worker that was taken over
    (it stalled past its lease) finds its row changed and leaves it to the newer attempt."""
    now = timezone.now()
    runnable = Q(pk=run_id) & (
        Q(status=QueryRun.Status.QUEUED)
        | Q(status=QueryRun.Status.RUNNING, heartbeat_at__lt=_lease_start(now))
    )
    claimed = (
        QueryRun.objects.filter(runnable)
        .filter(attempts__lt=settings.QUERY_RUN_MAX_ATTEMPTS)
        .update(
            status=QueryRun.Status.RUNNING,
            attempts=F("attempts") + 1,
            heartbeat_at=now,
            started_at=now,
            error="",
        )
    )
    if not claimed:
        run = QueryRun.objects.filter(runnable).first()
        if run is not None:  # used all its attempts
            run_take_over(run=run, enqueue=False)
        return None
    run = QueryRun.objects.get(pk=run_id)
    attempt = QueryRun.objects.filter(pk=run_id, status=QueryRun.Status.RUNNING)
    attempt = attempt.filter(attempts=run.attempts)

    def renew() -> None:
        attempt.update(heartbeat_at=timezone.now())

    try:
        with lease_renewed(
            renew, every_s=settings.QUERY_RUN_LEASE_SECONDS / 4, name=f"query-run-{run_id}"
        ):
            result = get_engine(run.engine).run(run.canonical_sql, query_params.decode(run.params))
    except ImproperlyConfigured as err:
        return _fail(attempt, run, f"Engine {run.engine} is not configured: {err}")
    except TransientWarehouseError as err:
        if run.attempts >= settings.QUERY_RUN_MAX_ATTEMPTS:
            return _fail(attempt, run, f"Gave up after {run.attempts} attempts: {err}")
        attempt.update(
            status=QueryRun.Status.QUEUED,
            heartbeat_at=timezone.now(),
            error=f"Attempt {run.attempts} failed ({err}); it is tried again.",
        )
        raise
    except (WarehouseError, SqlError) as err:
        return _fail(attempt, run, str(err))
    except SoftTimeLimitExceeded:
        limit = settings.QUERY_TIME_LIMIT_SECONDS
        return _fail(attempt, run, f"The query exceeded the {limit} s time limit.")
    except Exception as err:
        # A bug must not leave the run "running": fail it, then let the caller see the error.
        _fail(attempt, run, f"Internal error: {type(err).__name__}: {err}")
        raise

    finished = timezone.now()
    mark = watermark.current(run.engine, run.tables)
    result_cache.put(
        run.cache_key,
        CachedResult(
            # Masked here, before anything keeps or shows it (warehouse.personal_data).
            frame=personal_data.result_masked(parse(run.canonical_sql), result.frame),
            run_id=run.pk,
            cached_at=finished,
            watermark=run.watermark,
            data_as_of=mark.max_partition,
        ),
    )
    stats = result.stats
    attempt.update(
        status=QueryRun.Status.SUCCEEDED,
        finished_at=finished,
        translated_sql=stats.translated_sql,
        rows=stats.rows,
        bytes_scanned=stats.bytes_scanned,
        cost_usd=stats.cost_usd,
        engine_query_id=stats.engine_query_id or "",
        error="",
    )
    run_events.run_finished(run_id)
    run.refresh_from_db()
    return run


def _fail(attempt: QuerySet[QueryRun], run: QueryRun, error: str) -> QueryRun:
    attempt.update(status=QueryRun.Status.FAILED, finished_at=timezone.now(), error=error[:10_000])
    run_events.run_finished(run.pk)
    run.refresh_from_db()
    return run


def query_runs_recover() -> dict[str, int]:
    """The sweeper: take over every run in flight whose lease expired (its worker died, or its
    message was lost): queued again and sent again, or failed after its last attempt."""
    expired = QueryRun.objects.filter(
        status__in=QueryRun.IN_FLIGHT, heartbeat_at__lt=_lease_start(timezone.now())
    )
    done = {QueryRun.Status.QUEUED: 0, QueryRun.Status.FAILED: 0}
    for run in expired.order_by("queued_at")[:1000]:
        if (outcome := run_take_over(run=run)) is not None:
            done[outcome] += 1
    return {"requeued": done[QueryRun.Status.QUEUED], "failed": done[QueryRun.Status.FAILED]}


@dataclass(frozen=True)
class Answer:
    """What a submitted query has to say after a short wait: ready (``result``, from the cache),
    pending (``run`` is queued or running: poll ``poll_url``, or ask again) or failed
    (``error``, one readable sentence). ``run`` is None when the cache answered at submission."""

    result: CachedResult | None = None
    run: QueryRun | None = None
    error: str = ""

    @property
    def status(self) -> str:
        if self.result is not None:
            return "ready"
        return "failed" if self.error else "pending"

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def run_id(self) -> int | None:
        if self.result is not None:
            return self.result.run_id
        return self.run.pk if self.run is not None else None

    @property
    def poll_url(self) -> str | None:
        return reverse("api-run-detail", args=[self.run.pk]) if self.pending else None


# Waiting re-reads the run when its end is announced (warehouse.run_events), and otherwise
# every 20 ms at first, so that a quick query answers quickly without Redis, then less often, so
# that a long wait costs few queries.
_POLL_FIRST_S, _POLL_MAX_S = 0.02, 0.25


def query_answer(*, submission: Submission, wait_s: float) -> Answer:
    """The one way to wait for a query: ``submission``'s answer once its run finished, or
    pending after at most ``wait_s`` seconds (0: look once, never sleep). The only place
    that sleeps on a run."""
    if submission.cached is not None:
        return Answer(result=submission.cached)
    if wait_s <= 0:
        return _answer_now(QueryRun.objects.get(pk=submission.run.pk))
    deadline = time.monotonic() + wait_s
    poll_s = _POLL_FIRST_S
    with run_events.listening(submission.run.pk) as listener:
        while True:
            run = QueryRun.objects.get(pk=submission.run.pk)
            left = deadline - time.monotonic()
            if run.is_finished or left <= 0:
                return _answer_now(run)
            listener.wait(min(poll_s, left))
            poll_s = min(poll_s * 1.5, _POLL_MAX_S)


def _answer_now(run: QueryRun) -> Answer:
    return _finished_answer(run) if run.is_finished else Answer(run=run)


def _finished_answer(run: QueryRun) -> Answer:
    if run.status == QueryRun.Status.FAILED:
        return Answer(run=run, error=f"The query failed: {run.error or 'no reason recorded'}")
    if (cached := run_result(run)) is None:
        message = "The result expired from the cache before it could be sent; ask again."
        return Answer(run=run, error=message)
    return Answer(result=cached, run=run)


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
    answer = Answer(run=submission.run)
    while answer.pending:
        # Run it here; or, when someone else is running it, wait for theirs and take it over
        # (the next execute) if their lease expires.
        query_run_execute(run_id=submission.run.pk)
        answer = query_answer(submission=submission, wait_s=settings.QUERY_RUN_LEASE_SECONDS)
    if answer.failed:
        raise QueryFailed(answer.run)
    return answer.result
