"""services.query_answer, the one way to wait for a query: ready (the cached result), pending
(a run to poll) or failed (why), after waiting at most a given time. Real runs on DuckDB over
the small lake; the numbers are checked against pandas over the lake's files."""

import ast
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from warehouse import result_cache, services
from warehouse.lake import contract, storage
from warehouse.lake.contract import Access
from warehouse.models import QueryRun

GENERAL = frozenset({Access.GENERAL})
SQL = """
SELECT step, count(*) AS n FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end GROUP BY step ORDER BY step
"""
WINDOW = {"start": date(2026, 1, 20), "end": date(2026, 1, 26)}
BROKEN_SQL = "SELECT CAST(step AS integer) AS n FROM fact_funnel_events WHERE event_dt = :d"


def submit(**overrides) -> services.Submission:
    return services.query_submit(**{"sql": SQL, "params": WINDOW, "scope": GENERAL, **overrides})


def steps_in_lake(root: Path) -> dict[str, int]:
    frame = pd.read_parquet(storage.table_dir(root, contract.table("fact_funnel_events")))
    days = frame["event_dt"].astype(str)
    frame = frame[days.between(str(WINDOW["start"]), str(WINDOW["end"]))]
    return frame.groupby("step").size().to_dict()


def counts(answer: services.Answer) -> dict[str, int]:
    return dict(zip(answer.result.frame["step"], answer.result.frame["n"], strict=True))


@pytest.mark.django_db
class TestAnswers:
    def test_pending_names_the_run_and_where_to_poll_without_running_it(
        self, lake_settings, django_assert_num_queries
    ):
        submission = submit()
        with django_assert_num_queries(1):  # one look at the run, no sleep at wait_s=0
            answer = services.query_answer(submission=submission, wait_s=0)
        assert answer.status == "pending" and answer.pending
        assert answer.result is None and answer.error == ""
        assert answer.run_id == submission.run.pk
        assert answer.poll_url == f"/api/runs/{submission.run.pk}"
        run = QueryRun.objects.get()
        assert run.status == QueryRun.Status.QUEUED and run.started_at is None

    def test_a_short_wait_for_a_run_nobody_runs_stays_pending(self, lake_settings):
        answer = services.query_answer(submission=submit(), wait_s=0.3)
        assert answer.pending and answer.run.status == QueryRun.Status.QUEUED

    def test_ready_once_the_run_finished_with_the_cached_result(
        self, lake_settings, django_assert_num_queries
    ):
        submission = submit()
        services.query_run_execute(run_id=submission.run.pk)
        # The submission still holds the run as it was queued: the answer reads it again.
        with django_assert_num_queries(1):
            answer = services.query_answer(submission=submission, wait_s=0)
        assert answer.ready and answer.status == "ready" and answer.poll_url is None
        assert answer.run_id == submission.run.pk and answer.run is not None
        assert counts(answer) == steps_in_lake(lake_settings)

    def test_ready_from_the_cache_at_submission_reads_nothing(
        self, lake_settings, django_assert_num_queries
    ):
        first = submit()
        services.query_run_execute(run_id=first.run.pk)
        cached = submit()
        with django_assert_num_queries(0):
            answer = services.query_answer(submission=cached, wait_s=5)
        assert answer.ready and answer.run is None and answer.run_id == first.run.pk
        assert counts(answer) == steps_in_lake(lake_settings)

    def test_failed_with_the_engine_message(self, lake_settings):
        submission = submit(sql=BROKEN_SQL, params={"d": WINDOW["end"]})
        services.query_run_execute(run_id=submission.run.pk)
        answer = services.query_answer(submission=submission, wait_s=0)
        assert answer.failed and answer.status == "failed" and answer.result is None
        assert answer.error.startswith("The query failed: ")
        assert "Could not convert string" in answer.error
        assert answer.run.status == QueryRun.Status.FAILED and answer.poll_url is None

    def test_a_result_gone_from_the_cache_is_failed_not_pending(self, lake_settings):
        # Pending would have pages reload (and pay for a new scan) without end when the cache
        # cannot keep results (e.g. Redis away): failed says to ask again.
        submission = submit()
        run = services.query_run_execute(run_id=submission.run.pk)
        result_cache.cache.delete(run.cache_key)
        answer = services.query_answer(submission=submission, wait_s=0)
        assert answer.failed and "expired from the cache" in answer.error


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_waits_for_a_run_a_real_worker_finishes(celery_worker, lake_settings):
    submission = submit()  # queued, and sent to the worker when its transaction commits
    # A generous bound: the answer comes as soon as the worker is done, not after 120 s.
    answer = services.query_answer(submission=submission, wait_s=120)
    assert answer.ready, (answer.status, answer.error, celery_worker.log)
    assert counts(answer) == steps_in_lake(lake_settings)
    assert QueryRun.objects.get().status == QueryRun.Status.SUCCEEDED


def test_no_selector_sleeps_and_only_query_answer_polls_runs():
    """Reads stay reads: no selectors module sleeps. Waiting on a run is query_answer's job: no
    production module that reads QueryRun sleeps itself, and the one way to wait for a run's end
    (warehouse.run_events.listening) is used by warehouse/services.py alone."""
    root = Path(__file__).resolve().parents[2]
    sleepers, listeners = [], []
    for path in sorted(root.glob("*/**/*.py")):
        if {"tests", "migrations", ".venv", "bench", "var"} & set(path.relative_to(root).parts):
            continue
        source = path.read_text()
        tree = ast.parse(source)
        sleeps = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "sleep"
        ]
        if sleeps and (path.name == "selectors.py" or "QueryRun" in source):
            sleepers.append(str(path.relative_to(root)))
        if "run_events.listening(" in source:
            listeners.append(str(path.relative_to(root)))
    assert sleepers == []
    assert listeners == ["warehouse/services.py"]
