from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.health import run_checks
from portal.roles import data_scope


@require_GET
@never_cache
@login_not_required
def healthz(request):
    report = run_checks()
    down = sorted(name for name, check in report.items() if check["status"] != "up")
    status = 503 if down else 200
    return JsonResponse(
        {"status": "down" if down else "ok", "down": down, "checks": report}, status=status
    )


@require_GET
def home(request):
    return render(request, "portal/home.html", {"scope": sorted(data_scope(request.user))})
