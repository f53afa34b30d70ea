from rest_framework.permissions import SAFE_METHODS, BasePermission

from portal.authentication import has_token_scope
from portal.permissions import allows
from portal.roles import Capability

_PRIVACY_TEAM = allows(Capability.PRIVACY)()
_READ, _WRITE = has_token_scope("consent:read")(), has_token_scope("consent:write")()


class ConsentAccess(BasePermission):
    """Apps with a consent:read (GET) or consent:write (PUT) token, and the privacy team."""

    message = "Reading consent needs consent:read, changing it consent:write."

    def has_permission(self, request, view) -> bool:
        token = _READ if request.method in SAFE_METHODS else _WRITE
        return token.has_permission(request, view) or _PRIVACY_TEAM.has_permission(request, view)
