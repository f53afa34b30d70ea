from django.shortcuts import render
from django.views.decorators.http import require_GET

from home.selectors import home_for
from portal.roles import data_scope


@require_GET
def home(request):
    """What to look at: my saved views, recent dashboards, open alerts for my role, experiments
    I own, and how fresh the data is."""
    context = {"scope": sorted(data_scope(request.user)), "home": home_for(request)}
    return render(request, "home/home.html", context)
