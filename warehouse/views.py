from django.core.exceptions import PermissionDenied
from django.db.models import Count, ExpressionWrapper, F, FloatField, Sum
from django.db.models.fields import DurationField
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from core import paging
from core.paging import Column, Table
from warehouse import selectors
from warehouse.models import QueryRun

RUNS = Table(
    columns=(
        Column("run", "Run", "pk", desc_first=True),
        Column("what", "What", "label"),
        Column("engine", "Engine", "engine"),
        Column("status", "Status", "status"),
        Column("queued", "Queued", "queued_at", desc_first=True),
        Column("duration", "Duration (s)", "duration", num=True, desc_first=True),
        Column("rows", "Rows", "rows", num=True, desc_first=True),
        Column("bytes", "Bytes scanned", "bytes_scanned", num=True, desc_first=True),
        Column("cost", "Cost ($)", "cost_usd", num=True, desc_first=True),
    ),
    default="-queued",
)


@require_GET
def run_list(request):
    """The runs whose data the user may read, newest first, a page at a time, sortable by
    every column; the totals are over every page."""
    paged = paging.paging(request.GET, RUNS)
    runs = selectors.runs_readable(request.user).annotate(
        duration=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    )
    totals = runs.aggregate(
        runs=Count("pk"),
        bytes_scanned=Sum("bytes_scanned"),
        cost_usd=Sum("cost_usd", output_field=FloatField()),
    )
    page = [
        (run, selectors.without_server_paths(run.error))
        for run in runs.order_by(*paged.order_by("-pk"))[paged.slice()]
        if selectors.run_readable(run, request.user)
    ]
    context = {
        "runs": page,
        "totals": totals,
        "table": paging.table_view(request.GET, paged, total=totals["runs"], shown=len(page)),
    }
    return render(request, "warehouse/run_list.html", context)


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
