from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from portal.models import ServiceToken


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
        if len(parts) != 2:
            raise AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        token = (
            ServiceToken.objects.filter(
                token_hash=ServiceToken.hash(parts[1].decode("latin-1")), revoked_at__isnull=True
            )
            .only("id", "name", "scopes", "last_used_at")
            .first()
        )
        if token is None:
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
