from rest_framework.permissions import BasePermission

from portal.roles import Role, user_roles


def has_role(*roles: Role) -> type[BasePermission]:
    """A DRF permission granted to users holding any of ``roles`` (admins hold every role)."""

    class HasRole(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view) -> bool:
            return bool(user_roles(request.user) & set(roles))

    HasRole.__name__ = "HasRole_" + "_".join(roles)
    return HasRole


class IsPortalUser(BasePermission):
    """The API default: a logged-in person. Service tokens pass only where a view names their
    scope explicitly (assignment, consent), never through this default."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and hasattr(user, "groups"))
