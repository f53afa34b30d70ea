"""Error answers: pages in the portal's style for people, JSON for API clients (/api/).

Django's handler403/404/500 (portal.urls) and ErrorResponseMiddleware both answer through
``error_response``, so every error looks the same whatever raised it, with DEBUG on too. In the
API, DRF answers its own exceptions and api_exception_handler those of services (InputError,
LimitReached, a PermissionDenied with its reason)."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import InputError, LimitReached

API_PREFIX = "/api/"

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    413: "Request too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
REASONS = {
    400: "The request was not understood.",
    403: "Your role does not allow this.",
    404: "There is nothing at this address.",
    500: "The portal could not answer. The error is logged; try again in a minute.",
    503: "A service the portal needs is unreachable. Try again in a minute.",
}


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_response(request: HttpRequest, status: int, reason: str = "") -> HttpResponse:
    reason = reason or REASONS.get(status, TITLES.get(status, "Error."))
    if is_api(request):
        return JsonResponse({"detail": reason}, status=status)
    if status == 500:
        # Without the request's context (user, navigation): nothing here may fail again.
        return render(None, "500.html", status=status)
    context = {"status": status, "title": TITLES.get(status, "Error"), "reason": reason}
    return render(request, "errors/error.html", context, status=status)


def bad_request(request, exception=None):
    return error_response(request, 400)


def permission_denied(request, exception=None):
    # The reason our views give (PermissionDenied("Your role does not ...")) is shown as is.
    return error_response(request, 403, str(exception or ""))


def page_not_found(request, exception=None):
    # Http404's own message can name internals (Django's "No X matches the given query.").
    return error_response(request, 404)


def server_error(request):
    return error_response(request, 500)


def csrf_failure(request, reason: str = ""):
    # settings.CSRF_FAILURE_VIEW: Django's own page explains CSRF to developers, not to users.
    return error_response(
        request,
        403,
        "The form was sent without a valid security token: reload the page and send it again.",
    )


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: what services raise under an API view, answered once.

    - InputError (a service, a pure core, a parser): 400 in the shape DRF gives invalid
      serializer input, ``{"<field>": ["<problem>"]}``, whatever checked the input.
    - LimitReached: 429 with its payload (the limit and the use, as numbers).
    - Django's PermissionDenied with a reason (e.g. a query reading data the user may not): 403
      with that reason; DRF's own handling would drop it."""
    if isinstance(exc, InputError):
        exc = ValidationError({exc.field: [exc.message]})
    elif isinstance(exc, LimitReached):
        return Response(exc.payload(), status=429)
    elif isinstance(exc, DjangoPermissionDenied) and str(exc):
        exc = PermissionDenied(str(exc))
    return exception_handler(exc, context)
