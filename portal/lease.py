"""Renewing a job's lease from a thread while the job works, whatever step it is in.

A job that holds a row (a query run, a DSAR request) touches the row's heartbeat a few times per
stale limit; only a dead job's row goes stale, so no second job takes over a live one, however
long one engine call takes.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

log = logging.getLogger(__name__)


@contextmanager
def lease_renewed(renew: Callable[[], object], *, every_s: float, name: str) -> Iterator[None]:
    """Call ``renew`` every ``every_s`` seconds until the block ends."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every_s):
                try:
                    renew()
                except DatabaseError:  # a new connection at the next beat
                    log.warning("%s: lease renewal failed", name, exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
