"""Dashboards a user opened recently, newest first, for the home page: kept in a signed cookie,
so a page view writes nothing to the database."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

RECENT_COOKIE = "recent_dashboards"
RECENT_SALT = "portal.recent"
RECENT_MAX = 6
RECENT_MAX_AGE_S = 90 * 24 * 3600


def recent_dashboards(request: HttpRequest) -> list[str]:
    value = request.get_signed_cookie(RECENT_COOKIE, default="", salt=RECENT_SALT)
    return [slug for slug in value.split(",") if slug]


def dashboard_viewed(request: HttpRequest, response: HttpResponse, slug: str) -> HttpResponse:
    """``response`` remembering ``slug`` as the newest of the dashboards viewed."""
    recent = recent_dashboards(request)
    if recent[:1] != [slug]:
        newest = [slug, *(s for s in recent if s != slug)][:RECENT_MAX]
        response.set_signed_cookie(
            RECENT_COOKIE,
            ",".join(newest),
            salt=RECENT_SALT,
            max_age=RECENT_MAX_AGE_S,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    return response
