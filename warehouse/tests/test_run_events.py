"""A waiter wakes when its run's end is announced (Redis pub/sub), not at its next look at the
run's row; without Redis, or with Redis away, it looks at the row as before."""

import socket
import threading
import time
from datetime import date

import pytest
from django.db import connection

from portal.roles import Access
from warehouse import run_events, services

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"
SEARCHES_BY_DAY = """
SELECT event_dt, count_if(step = 'search') AS searches
FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end
GROUP BY event_dt
"""


@pytest.fixture
def redis_url(settings) -> str:
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL); CI always has it")
    return settings.REDIS_URL


def later(seconds: float, fn) -> threading.Timer:
    timer = threading.Timer(seconds, fn)
    timer.start()
    return timer


def waited(listener: run_events.Listener, timeout: float) -> float:
    started = time.monotonic()
    listener.wait(timeout)
    return time.monotonic() - started


def test_a_listener_wakes_at_its_runs_announcement(redis_url):
    with run_events.listening(987_654) as listener:
        later(0.3, lambda: run_events.run_finished(987_654))
        assert 0.25 <= waited(listener, 30) < 15


def test_another_runs_announcement_does_not_wake_it(redis_url):
    with run_events.listening(111) as listener:
        later(0.1, lambda: run_events.run_finished(222))
        assert waited(listener, 1.0) >= 1.0


@pytest.mark.parametrize("url", [None, CLOSED_PORT_REDIS], ids=["no-redis", "redis-away"])
def test_without_redis_announcing_is_a_no_op_and_listening_sleeps(settings, url):
    settings.REDIS_URL = url
    run_events.run_finished(5)  # nothing raised: the row is the truth
    with run_events.listening(5) as listener:
        assert waited(listener, 0.3) >= 0.3


@pytest.fixture
def silent_redis():
    """A server that accepts connections (the kernel's backlog does) and never answers: Redis
    paused, or lost behind a proxy."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


def test_a_redis_that_never_answers_holds_no_request_or_worker(settings, silent_redis):
    settings.REDIS_URL = silent_redis
    waits = []

    def announce_and_wait() -> None:
        run_events.run_finished(6)
        with run_events.listening(6) as listener:
            waits.append(waited(listener, 0.2))

    caller = threading.Thread(target=announce_and_wait, daemon=True)
    caller.start()
    caller.join(timeout=20)
    assert not caller.is_alive(), "announcing or listening hung on a silent Redis"
    assert waits and waits[0] >= 0.2  # it slept instead, as without Redis


@pytest.mark.django_db(transaction=True)
def test_an_answer_comes_when_the_run_finishes_not_at_the_next_look(
    redis_url, lake_settings, monkeypatch
):
    # The first look at the row after 20 s: only the announcement can answer sooner.
    monkeypatch.setattr(services, "_POLL_FIRST_S", 20.0)
    submission = services.query_submit(
        sql=SEARCHES_BY_DAY,
        params={"start": date(2026, 1, 20), "end": date(2026, 1, 26)},
        scope=frozenset({Access.GENERAL}),
    )

    def worker() -> None:
        try:
            services.query_run_execute(run_id=submission.run.pk)
        finally:
            connection.close()

    finishing = later(0.3, worker)
    started = time.monotonic()
    answer = services.query_answer(submission=submission, wait_s=30)
    finishing.join()

    assert answer.ready, answer
    assert time.monotonic() - started < 15
    assert len(answer.result.frame) == 7
