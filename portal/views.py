from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.health import run_checks
from portal.roles import Capability, may


@require_GET
@never_cache
@login_not_required
def healthz(request):
    """Readiness and monitoring: every dependency and the workers (see README, Production)."""
    # Error texts can name hosts and ports: for staff and admins only.
    with_errors = request.user.is_staff or may(request.user, Capability.HEALTH_ERRORS)
    report = run_checks(with_errors=with_errors)
    down = sorted(name for name, check in report.items() if check["status"] != "up")
    status = 503 if down else 200
    return JsonResponse(
        {"status": "down" if down else "ok", "down": down, "checks": report}, status=status
    )


@require_GET
@never_cache
@login_not_required
def liveness(request):
    """For load balancers: the process answers. No I/O, so a broken dependency never takes
    every web process out of rotation at once."""
    return JsonResponse({"status": "ok"})
