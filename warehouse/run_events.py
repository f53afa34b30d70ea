"""A run's end, announced: whoever waits on a run wakes the moment it finishes, not at its next
look at the run's row.

With Redis (production, CI) the process that finishes a run publishes on the run's channel, and
``query_answer`` listens there between its looks at the row. Without Redis (the embedded demo)
nothing is announced and waiters sleep between looks as before. The row stays the truth: a lost
announcement costs one poll interval, never an answer.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)


def _channel(run_id: int) -> str:
    # Pub/sub ignores Redis's database number: the database and the cache's key prefix keep
    # deployments (and test workers) sharing one Redis apart.
    database = _client(settings.REDIS_URL).get_connection_kwargs().get("db", 0)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:{database}:run-finished:{run_id}"


@cache
def _client(url: str) -> redis.Redis:
    # A Redis that accepts and never answers must not hold a request or a worker: every read
    # gives up after a second (a listener's wait is a select bounded by its own timeout), and
    # nothing is retried, since polling the row is the fallback.
    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )


def run_finished(run_id: int) -> None:
    """Wake the waiters of ``run_id``; call it once the run's row says it finished."""
    if not settings.REDIS_URL:
        return
    try:
        _client(settings.REDIS_URL).publish(_channel(run_id), b"finished")
    except redis.RedisError as err:
        logger.warning("Run %s finished unannounced (its waiters poll): %s", run_id, err)


class Listener:
    """Sleeps for a waiter, and is woken early by the run's announcement."""

    def __init__(self, pubsub: redis.client.PubSub | None):
        self._pubsub = pubsub

    def wait(self, timeout: float) -> None:
        """Return after ``timeout`` seconds, or sooner when the run's end is announced."""
        if self._pubsub is None:
            time.sleep(timeout)
            return
        deadline = time.monotonic() + timeout
        try:
            # None is a timeout or the subscription's own confirmation: wait on for the rest.
            while (left := deadline - time.monotonic()) > 0:
                if self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left):
                    return
        except redis.RedisError as err:
            logger.warning("Listening for a run's end failed (polling instead): %s", err)
            self._pubsub = None
            time.sleep(max(0.0, deadline - time.monotonic()))


@contextmanager
def listening(run_id: int) -> Iterator[Listener]:
    """A listener on ``run_id``'s channel. Enter it before reading the run's row, so that an end
    announced between the read and the wait is not missed."""
    if not settings.REDIS_URL:
        yield Listener(None)
        return
    pubsub = _client(settings.REDIS_URL).pubsub()
    try:
        pubsub.subscribe(_channel(run_id))
    except redis.RedisError as err:
        pubsub.close()
        logger.warning("Cannot listen for run %s's end (polling instead): %s", run_id, err)
        yield Listener(None)
        return
    try:
        yield Listener(pubsub)
    finally:
        pubsub.close()
