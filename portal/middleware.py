import logging

from django.conf import settings
from django.contrib.auth import middleware
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from portal.errors import error_response, is_api


class LoginRequiredMiddleware(middleware.LoginRequiredMiddleware):
    """Login everywhere; API views answer 401/403 themselves (DRF) instead of redirecting,
    so that service tokens and JSON clients get a status code, not a login page."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "cls", None) is not None and hasattr(
            view_func.cls, "permission_classes"
        ):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


logger = logging.getLogger(__name__)

# A dependency that is away for a while (Redis, the broker): 503 and "try again", not 500.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, KombuOperationalError)
RETRY_AFTER_SECONDS = 30
KEPT_HEADERS = ("Retry-After", "WWW-Authenticate", "Allow")


class ErrorResponseMiddleware:
    """Every error in the portal's own form: JSON under /api/ whatever produced it (Django's
    technical pages with DEBUG on, a CSRF failure, an unknown URL, an unhandled exception),
    the portal's error pages for people, with DEBUG on too unless TECHNICAL_ERROR_PAGES."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400:
            return response
        if is_api(request):
            if _is_json(response) or hasattr(response, "accepted_renderer"):
                return response  # DRF's answer, JSON or the browsable API's page
            return _with_headers(error_response(request, response.status_code), response)
        if (
            response.status_code == 404
            and _friendly_debug()
            and getattr(request, "resolver_match", None) is None
        ):
            return error_response(request, 404)  # instead of Django's list of URL patterns
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, UNAVAILABLE):
            logger.warning(
                "%s unavailable: %s: %s", request.path, type(exception).__name__, exception
            )
            response = error_response(request, 503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        if not _friendly_debug():
            return None  # Django's handlers (portal.errors) answer, and log 500s
        if isinstance(exception, Http404):
            return error_response(request, 404)
        if isinstance(exception, (PermissionDenied, BadRequest, SuspiciousOperation)):
            return None  # handler403/handler400 answer these with DEBUG on too
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", request.path, exc_info=exception
        )
        return error_response(request, 500)


def _friendly_debug() -> bool:
    return settings.DEBUG and not settings.TECHNICAL_ERROR_PAGES


def _is_json(response) -> bool:
    return "json" in response.get("Content-Type", "")


def _with_headers(response, original):
    for header in KEPT_HEADERS:
        if header in original:
            response[header] = original[header]
    return response
