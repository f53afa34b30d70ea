from django.contrib.auth import middleware


class LoginRequiredMiddleware(middleware.LoginRequiredMiddleware):
    """Login everywhere; API views answer 401/403 themselves (DRF) instead of redirecting,
    so that service tokens and JSON clients get a status code, not a login page."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "cls", None) is not None and hasattr(
            view_func.cls, "permission_classes"
        ):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
