from django.shortcuts import render
from django.views.decorators.http import require_GET

from alerts.selectors import alert_sources_for, alerts_feed


@require_GET
def alert_list(request):
    """The alerts of the sources the user may open (experiments, pipeline)."""
    source = request.GET.get("source") or None
    context = {
        "alerts": alerts_feed(source=source, user=request.user),
        "sources": alert_sources_for(request.user),
    }
    return render(request, "alerts/alert_list.html", context)
