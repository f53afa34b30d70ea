"""Runs heal themselves: a run whose worker died (its lease expired) is taken over by a
redelivered task, an identical request or the sweeper, and fails after its last attempt.

A dead worker leaves its run "running" with a heartbeat that no longer moves: most tests set
that state directly (an expired lease is a heartbeat older than QUERY_RUN_LEASE_SECONDS), the
last ones kill a real worker process."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import psutil
import pytest
from django.db import connection
from django.utils import timezone

from portal.roles import Access
from tests.support.services import WorkerProcess, wait_until
from warehouse import result_cache, services
from warehouse.engines import registry
from warehouse.models import QueryRun
from warehouse.tasks import run_query

GENERAL = frozenset({Access.GENERAL})
SQL = """
SELECT step, count(*) AS n FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end GROUP BY step ORDER BY step
"""
WINDOW = {"start": date(2026, 1, 20), "end": date(2026, 1, 26)}
RUNNING, QUEUED = QueryRun.Status.RUNNING, QueryRun.Status.QUEUED
SUCCEEDED, FAILED = QueryRun.Status.SUCCEEDED, QueryRun.Status.FAILED


def submit(**overrides) -> services.Submission:
    return services.query_submit(**{"sql": SQL, "params": WINDOW, "scope": GENERAL, **overrides})


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def worker_died(run: QueryRun, *, attempts: int = 1, seconds_ago: float = 31) -> QueryRun:
    """The state a worker killed mid-run leaves: running, its heartbeat stopped."""
    QueryRun.objects.filter(pk=run.pk).update(
        status=RUNNING,
        attempts=attempts,
        started_at=ago(seconds_ago),
        heartbeat_at=ago(seconds_ago),
    )
    run.refresh_from_db()
    return run


@pytest.fixture
def lease(settings, lake_settings):
    settings.QUERY_RUN_LEASE_SECONDS = 30
    settings.QUERY_RUN_MAX_ATTEMPTS = 3
    return settings


@pytest.mark.django_db
class TestTakeOver:
    def test_a_redelivered_task_takes_over_a_run_whose_worker_died(self, lease):
        run = worker_died(submit().run)
        done = services.query_run_execute(run_id=run.pk)
        assert done is not None and done.status == SUCCEEDED
        assert done.attempts == 2 and done.rows == 5
        assert result_cache.get(run.cache_key).run_id == run.pk

    def test_a_live_run_is_never_run_twice(self, lease):
        run = worker_died(submit().run, seconds_ago=5)  # heartbeat 5 s ago: alive
        assert services.query_run_execute(run_id=run.pk) is None
        assert services.query_runs_recover() == {"requeued": 0, "failed": 0}
        assert submit().run.pk == run.pk
        run.refresh_from_db()
        assert (run.status, run.attempts) == (RUNNING, 1)

    def test_an_identical_request_takes_over_and_sends_the_run_again(
        self, lease, django_capture_on_commit_callbacks
    ):
        run = worker_died(submit().run)
        with django_capture_on_commit_callbacks() as sent:
            joined = submit()
        assert joined.run.pk == run.pk and len(sent) == 1
        run.refresh_from_db()
        assert run.status == QUEUED and run.heartbeat_at > ago(5)
        assert services.query_run_execute(run_id=run.pk).status == SUCCEEDED

    def test_the_sweeper_takes_over_dead_runs_and_resends_lost_messages(
        self, lease, django_capture_on_commit_callbacks
    ):
        dead = worker_died(submit().run)
        lost = submit(params={**WINDOW, "end": date(2026, 1, 25)}).run  # its message was lost
        QueryRun.objects.filter(pk=lost.pk).update(queued_at=ago(40), heartbeat_at=ago(40))
        live = worker_died(submit(params={**WINDOW, "end": date(2026, 1, 24)}).run, seconds_ago=5)
        waiting = submit(params={**WINDOW, "end": date(2026, 1, 23)}).run

        with django_capture_on_commit_callbacks(execute=False) as sent:
            assert services.query_runs_recover() == {"requeued": 2, "failed": 0}
        assert len(sent) == 2
        states = dict(QueryRun.objects.values_list("pk", "status"))
        assert states == {dead.pk: QUEUED, lost.pk: QUEUED, live.pk: RUNNING, waiting.pk: QUEUED}
        with django_capture_on_commit_callbacks(execute=False) as sent:
            assert services.query_runs_recover() == {"requeued": 0, "failed": 0}  # once
        assert sent == []

    def test_a_long_queue_is_not_flooded_with_copies(self, lease):
        """A run queued 10 minutes ago and last sent 2 minutes ago waits in a long queue; sent
        6 minutes ago, it is sent again."""
        run = submit().run
        QueryRun.objects.filter(pk=run.pk).update(queued_at=ago(600), heartbeat_at=ago(120))
        assert services.query_runs_recover()["requeued"] == 0
        QueryRun.objects.filter(pk=run.pk).update(heartbeat_at=ago(360))
        assert services.query_runs_recover()["requeued"] == 1

    def test_after_the_last_attempt_the_run_fails_with_a_clear_error(self, lease):
        run = worker_died(submit().run, attempts=3)
        assert services.query_runs_recover() == {"requeued": 0, "failed": 1}
        run.refresh_from_db()
        assert run.status == FAILED and run.finished_at is not None
        assert run.error.startswith("Gave up after 3 attempts: each time, the worker")
        again = submit()  # asking again starts afresh
        assert again.run.pk != run.pk and again.run.attempts == 0

    def test_a_redelivery_after_the_last_attempt_fails_the_run(self, lease):
        run = worker_died(submit().run, attempts=3)
        assert services.query_run_execute(run_id=run.pk) is None
        run.refresh_from_db()
        assert run.status == FAILED and "Gave up after 3 attempts" in run.error

    def test_an_identical_request_replaces_a_run_that_used_its_attempts(self, lease):
        run = worker_died(submit().run, attempts=3)
        fresh = submit().run
        assert fresh.pk != run.pk and fresh.status == QUEUED
        assert QueryRun.objects.get(pk=run.pk).status == FAILED

    def test_of_two_takeovers_of_one_run_only_one_acts(self, lease):
        run = worker_died(submit().run)
        same = QueryRun.objects.get(pk=run.pk)
        assert services.run_take_over(run=run) == QUEUED
        assert services.run_take_over(run=same) is None  # the row changed since it was read

    def test_transient_errors_are_retried_up_to_the_attempts_then_fail(self, lease):
        lease.WAREHOUSE_POSTGRES_URL = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
        run = submit(engine="postgres").run
        for attempt in (1, 2):
            with pytest.raises(services.TransientWarehouseError):
                services.query_run_execute(run_id=run.pk)
            run.refresh_from_db()
            assert (run.status, run.attempts) == (QUEUED, attempt)
            assert f"Attempt {attempt} failed" in run.error
        run = services.query_run_execute(run_id=run.pk)
        assert (run.status, run.attempts) == (FAILED, 3)
        assert run.error.startswith("Gave up after 3 attempts:")

    def test_a_worker_taken_over_does_not_write_the_outcome(self, lease, monkeypatch):
        """A worker that stalled past its lease was taken over: its late result is cached (it
        is the same query) but the run belongs to the newer attempt."""
        run = submit().run
        real = registry.get_engine

        class TakenOverMidway:
            def __init__(self, name):
                self.engine = real(name)

            def run(self, sql, params):
                result = self.engine.run(sql, params)
                # Meanwhile the lease expired and a redelivery claimed attempt 2.
                QueryRun.objects.filter(pk=run.pk).update(attempts=2, heartbeat_at=timezone.now())
                return result

        monkeypatch.setattr(services, "get_engine", TakenOverMidway)
        late = services.query_run_execute(run_id=run.pk)
        assert (late.status, late.attempts, late.finished_at) == (RUNNING, 2, None)
        assert result_cache.get(run.cache_key).run_id == run.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_redeliveries_claim_a_dead_run_once(lease):
    # No message: a worker left running by other tests would claim the run before the threads.
    run = worker_died(submit(enqueue=False).run)

    def redeliver(_):
        try:
            return services.query_run_execute(run_id=run.pk)
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(redeliver, range(4)))
    assert sum(outcome is not None for outcome in outcomes) == 1
    run.refresh_from_db()
    assert (run.status, run.attempts) == (SUCCEEDED, 2)


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_while_the_engine_works(lease, monkeypatch):
    """Renewals come from a thread, whatever the engine does: a run that takes longer than its
    lease keeps it."""
    lease.QUERY_RUN_LEASE_SECONDS = 0.4  # renewed every 0.1 s
    run = submit(enqueue=False).run  # this test runs it, not a worker
    real = registry.get_engine
    renewed = []

    class Slow:
        def __init__(self, name):
            self.engine = real(name)

        def run(self, sql, params):
            claimed = QueryRun.objects.get(pk=run.pk).heartbeat_at
            # Several renewals, each seen in the database, however busy the machine is.
            for _ in range(3):
                beat = QueryRun.objects.get(pk=run.pk).heartbeat_at
                renewed.append(
                    wait_until(
                        lambda b=beat: QueryRun.objects.get(pk=run.pk).heartbeat_at > b,
                        timeout=60,
                    )
                )
            assert QueryRun.objects.get(pk=run.pk).heartbeat_at > claimed
            return self.engine.run(sql, params)

    monkeypatch.setattr(services, "get_engine", Slow)
    done = services.query_run_execute(run_id=run.pk)
    assert len(renewed) == 3 and (done.status, done.attempts) == (SUCCEEDED, 1)


def test_the_sweeper_is_in_the_beat_schedule(settings):
    from portal.celery import app

    entries = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert entries["warehouse.tasks.recover_stale_runs"] == settings.QUERY_RUN_SWEEP_SECONDS
    app.loader.import_default_modules()
    assert "warehouse.tasks.recover_stale_runs" in app.tasks


# ----------------------------------------------------------------------- real worker processes

# Several seconds over the small lake's 14 days: long enough to kill its worker while it runs.
SLOW_SQL = """
SELECT count(*) AS pairs
FROM fact_funnel_events a
JOIN fact_funnel_events b
  ON a.event_dt = b.event_dt AND md5(a.event_id || b.event_id) < md5(b.step || a.step)
WHERE a.event_dt BETWEEN :start AND :end AND b.event_dt BETWEEN :start AND :end
"""
KILL_QUEUE = "h-test-run-lease"


def kill_worker(worker: WorkerProcess) -> None:
    """SIGKILL to the worker and its pool children: nothing runs its cleanup."""
    main = psutil.Process(worker.proc.pid)
    for process in [*main.children(recursive=True), main]:
        os.kill(process.pid, signal.SIGKILL)
    worker.proc.wait(timeout=30)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_was_killed_completes(lease, small_lake):
    """A real worker renews the lease while DuckDB works; killed with SIGKILL mid-run, its run
    is taken over by the sweeper once the lease expires and completes on another worker."""
    lease.QUERY_RUN_LEASE_SECONDS = 2
    short_lease = {"QUERY_RUN_LEASE_SECONDS": "2"}
    params = {"start": date(2026, 1, 18), "end": date(2026, 1, 31)}
    run = services.query_submit(sql=SLOW_SQL, params=params, scope=GENERAL, enqueue=False).run
    # The first attempt goes to a worker of its own queue, so no other worker of the test
    # session takes it.
    doomed = WorkerProcess(small_lake, env=short_lease, queues=KILL_QUEUE)
    try:
        run_query.apply_async((run.pk,), queue=KILL_QUEUE)
        first = wait_until(lambda: QueryRun.objects.filter(pk=run.pk, status=RUNNING).first(), 60)
        wait_until(lambda: QueryRun.objects.get(pk=run.pk).heartbeat_at > first.heartbeat_at, 60)
        kill_worker(doomed)
    finally:
        doomed.stop()
    assert QueryRun.objects.get(pk=run.pk).status == RUNNING  # killed mid-run

    # The sweeper, as beat runs it, takes the run over once its lease expired.
    wait_until(lambda: services.query_runs_recover()["requeued"], timeout=60, interval=0.2)
    rescuer = WorkerProcess(small_lake, env=short_lease)
    try:
        done = wait_until(
            lambda: (
                QueryRun.objects.filter(pk=run.pk).exclude(status__in=QueryRun.IN_FLIGHT).first()
            ),
            timeout=180,
            interval=0.2,
        )
    finally:
        rescuer.stop()
    assert (done.status, done.attempts) == (SUCCEEDED, 2), done.error
    assert done.rows == 1 and result_cache.get(done.cache_key).frame["pairs"][0] > 0
