from django.shortcuts import render
from django.views.decorators.http import require_GET

from alerts.selectors import alerts_feed


@require_GET
def alert_list(request):
    source = request.GET.get("source") or None
    return render(request, "alerts/alert_list.html", {"alerts": alerts_feed(source=source)})
