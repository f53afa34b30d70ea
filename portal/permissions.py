"""The one way to check who may do what: ``capability_required`` for pages and ``allows`` for
the API, both answering from portal.roles.CAPABILITIES (services call ``portal.roles.may``)."""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from portal.roles import CAPABILITIES, Capability, may


def capability_required(capability: Capability) -> Callable:
    """A page for holders of ``capability``; others get a 403 page giving the capability's
    reason, which says nothing about the page's data."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not may(request.user, capability):
                raise PermissionDenied(CAPABILITIES[capability].denied)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def allows(capability: Capability) -> type[BasePermission]:
    """A DRF permission granted to holders of ``capability``."""

    class Allows(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view) -> bool:
            return may(request.user, capability)

    Allows.__name__ = f"Allows_{capability.value}"
    return Allows


class IsPortalUser(BasePermission):
    """The API default: a logged-in person. Service tokens pass only where a view names their
    scope explicitly (assignment, consent), never through this default."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and hasattr(user, "groups"))
