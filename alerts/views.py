from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.shortcuts import render
from django.views.decorators.http import require_GET

from alerts.selectors import alert_sources_for, alerts_visible
from core import paging
from core.paging import Column, Table

ALERTS = Table(
    columns=(
        Column("state", "State", "is_open_rank", desc_first=True),
        Column("severity", "Severity", "severity_rank", desc_first=True),
        Column("alert", "Alert", "title"),
        Column("source", "Source", "source"),
        Column("opened", "Opened", "opened_at", desc_first=True),
        Column("updated", "Last update", "updated_at", desc_first=True),
        Column("closed", "Closed", "closed_at", desc_first=True),
    ),
    # Open alerts first, each group newest first (the tiebreak below).
    default="-state",
)


@require_GET
def alert_list(request):
    """The alerts of the sources the user may open (experiments, pipeline), a page at a time,
    open ones first; sortable by every column, with the counts of open and closed ones."""
    source = request.GET.get("source") or None
    paged = paging.paging(request.GET, ALERTS)
    alerts = alerts_visible(source=source, user=request.user).annotate(
        is_open_rank=Case(When(closed_at__isnull=True, then=Value(1)), default=Value(0)),
        # Alarms above warnings, not the alphabet's order.
        severity_rank=Case(
            When(severity="alarm", then=Value(1)), default=Value(0), output_field=IntegerField()
        ),
    )
    counts = alerts.aggregate(total=Count("pk"), open=Count("pk", filter=Q(closed_at__isnull=True)))
    page = list(alerts.order_by(*paged.order_by("-opened_at", "-pk"))[paged.slice()])
    context = {
        "alerts": page,
        "counts": counts | {"closed": counts["total"] - counts["open"]},
        "sources": alert_sources_for(request.user),
        "source": source,
        "table": paging.table_view(request.GET, paged, total=counts["total"], shown=len(page)),
    }
    return render(request, "alerts/alert_list.html", context)
