from functools import wraps

from django.core.exceptions import PermissionDenied

from portal.roles import Role, user_roles


def role_required(*roles: Role):
    """A page for holders of any of ``roles`` (admins hold every role); others get a 403 that
    says nothing about the page's data."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_roles(request.user) & set(roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
