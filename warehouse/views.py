from django.shortcuts import render
from django.views.decorators.http import require_GET

from warehouse import selectors


@require_GET
def run_list(request):
    runs = selectors.runs_readable(request.user)
    return render(request, "warehouse/run_list.html", {"runs": runs})
