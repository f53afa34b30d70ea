from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from warehouse import selectors
from warehouse.models import QueryRun


@require_GET
def run_list(request):
    runs = [
        (run, selectors.without_server_paths(run.error))
        for run in selectors.runs_readable(request.user)
    ]
    return render(request, "warehouse/run_list.html", {"runs": runs})


@require_GET
def run_detail(request, run_id: int):
    """What a run did, for the people who may read its data: the same rule as its API."""
    run = get_object_or_404(QueryRun.objects.select_related("requested_by"), pk=run_id)
    if not selectors.run_readable(run, request.user):
        raise PermissionDenied("You do not have access to the data this run read.")
    return render(
        request,
        "warehouse/run_detail.html",
        {
            "run": run,
            "error": selectors.without_server_paths(run.error),
            "cached": selectors.run_result(run),
        },
    )
