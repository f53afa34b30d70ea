"""Per-user limits on the pages and APIs that submit warehouse queries.

DRF's user-rate throttles count the requests of each user (of each IP address when anonymous)
in the shared cache. Pages reuse the same classes through ``query_throttled``, so a user has
one budget whether they ask through the API, a dashboard tile or a CSV export (a second
library, django-ratelimit, would count pages in counters of its own). The rates are the
``query_burst`` and ``query_sustained`` entries of REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
(QUERY_THROTTLE_BURST and QUERY_THROTTLE_SUSTAINED); a rate of None is no limit.

A throttle is a counter, not a guard of data: when the cache cannot be read or written the
request goes through (logged), rather than a page failing.
"""

import logging
import math
from collections.abc import Callable
from functools import partial, wraps

from django.http import HttpRequest, HttpResponse
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

from portal.errors import error_response

logger = logging.getLogger(__name__)


class _FailOpen(UserRateThrottle):
    def get_rate(self) -> str | None:
        # Read at each use: DRF's class attribute THROTTLE_RATES is fixed at import.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # any cache backend's failure: the limit is skipped, never the request
            logger.warning("Throttle %s skipped: its cache failed", self.scope, exc_info=True)
            return True


class QueryBurstThrottle(_FailOpen):
    scope = "query_burst"


class QuerySustainedThrottle(_FailOpen):
    scope = "query_sustained"


QUERY_THROTTLES = (QueryBurstThrottle, QuerySustainedThrottle)


def query_wait(request: HttpRequest) -> float | None:
    """None when ``request`` is within every query limit (and counted), else the seconds until
    it would be. Every limit counts the request, as DRF's own check does."""
    waits = []
    for throttle in (cls() for cls in QUERY_THROTTLES):
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 0.0)
    return max(waits) if waits else None


def query_throttled(
    view: Callable[..., HttpResponse] | None = None, *, methods: tuple[str, ...] | None = None
):
    """For a page that submits warehouse queries (with ``methods``, only requests with one of
    those): the API's limits, answered with a readable 429 page and Retry-After."""
    if view is None:
        return partial(query_throttled, methods=methods)

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        counted = methods is None or request.method in methods
        wait = query_wait(request) if counted else None
        if wait is None:
            return view(request, *args, **kwargs)
        seconds = max(math.ceil(wait), 1)
        response = error_response(
            request,
            429,
            "You have asked for many reports that run warehouse queries in a short time. "
            f"Try again in {seconds} seconds.",
        )
        response["Retry-After"] = str(seconds)
        return response

    return wrapped
