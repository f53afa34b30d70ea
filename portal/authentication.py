import logging
import time
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import BasePermission

from portal.models import ServiceToken

logger = logging.getLogger(__name__)


def client_ip(request) -> str:
    """REMOTE_ADDR, or the address the outermost of TRUSTED_PROXY_COUNT proxies saw: each proxy
    appends its peer to X-Forwarded-For, so entries left of those are the client's own say."""
    if count := settings.TRUSTED_PROXY_COUNT:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR", "")


class AxesBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every login over HTTP (the login page, the admin's).
    A call without a request (the shell, a management command) has no client to lock out, so it
    passes to the next backend instead of failing as axes' own backend does."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def _failure_window() -> tuple[int, int]:
    """The current fixed window of the bad-token count: its number and seconds left in it."""
    length = settings.SERVICE_TOKEN_FAILURE_WINDOW_SECONDS
    now = time.time()
    return int(now // length), max(1, int(length - now % length))


def _failures_key(request) -> str:
    window, _ = _failure_window()
    return f"auth:bearer-failures:{client_ip(request)}:{window}"


def _refuse_if_throttled(request) -> None:
    failures = cache.get(_failures_key(request), 0)
    if failures >= settings.SERVICE_TOKEN_FAILURE_LIMIT:
        raise Throttled(
            wait=_failure_window()[1], detail="Too many invalid service tokens from this address."
        )


def _count_failure(request) -> None:
    key = _failures_key(request)
    cache.add(key, 0, timeout=settings.SERVICE_TOKEN_FAILURE_WINDOW_SECONDS + 5)
    try:
        cache.incr(key)
    except ValueError:  # the key expired between add and incr: this failure goes uncounted
        pass
    except RedisError:
        logger.warning("Bad service token not counted: the cache is unreachable")


class ServicePrincipal:
    """The caller behind a service token: authenticated, but holds no role and no data scope."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False
    is_anonymous = False

    def __init__(self, token: ServiceToken):
        self.token = token
        self.username = f"service:{token.name}"
        self.pk = None

    def __str__(self) -> str:
        return self.username


class ServiceTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` for apps calling the assignment and consent endpoints."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        _refuse_if_throttled(request)
        if len(parts) != 2:
            _count_failure(request)
            raise AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        token = (
            ServiceToken.objects.filter(
                token_hash=ServiceToken.hash(parts[1].decode("latin-1")), revoked_at__isnull=True
            )
            .only("id", "name", "scopes", "last_used_at")
            .first()
        )
        if token is None:
            _count_failure(request)
            raise AuthenticationFailed("Invalid or revoked service token.")
        now = timezone.now()
        # Recorded at most once a minute, to keep the hot path free of writes.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            ServiceToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return ServicePrincipal(token), token

    def authenticate_header(self, request) -> str:
        return "Bearer"


def has_token_scope(scope: str) -> type[BasePermission]:
    """A DRF permission for service tokens that carry ``scope``."""

    class HasTokenScope(BasePermission):
        message = f"This token lacks the {scope} scope."

        def has_permission(self, request, view) -> bool:
            return isinstance(request.auth, ServiceToken) and scope in request.auth.scopes

    return HasTokenScope
