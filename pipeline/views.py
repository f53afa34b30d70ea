"""Pipeline health pages. Every role may read them (all derive from general-access tables;
freshness lists only the tables the reader may read); triage needs the admin or analyst role."""

from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import json_script
from django.views.decorators.http import require_GET, require_POST

from annotations.charts import annotated
from annotations.selectors import annotations_in
from pipeline import charts, selectors, services
from pipeline.forms import RangeForm, TriageForm
from pipeline.models import Check, DeadLetterReason
from portal.errors import error_response
from portal.local_cache import local_cache
from portal.permissions import capability_required
from portal.roles import Capability, data_scope

CHART_DAYS = 14
# Hourly points for at most the last two weeks: over longer ranges the days tell the story,
# and a chart of thousands of hours is no more readable than one of its days.
HOURLY_DAYS = 14
# A built chart set outlives its health run at most this long (a newer run is a new key).
FIGURES_SECONDS = 6 * 3600
TRIAGE_DAYS = 30


readers = capability_required(Capability.PIPELINE_READ)


def _reference():
    """The time the stored health refers to: the last run's, else now."""
    run = selectors.last_run()
    return (run.as_of if run else timezone.now()), run


def _figures(run, days: int, since, hours_since, user) -> dict[str, str]:
    """The four charts as JSON script tags, with the annotations ``user`` may see. The charts
    are most of the page's cost and change only with a new health run, so each process builds
    them once per finished run and range (an unfinished run is still writing its series: built
    every time); the annotations depend on the user and are added to each page."""
    finished = run is not None and run.finished_at is not None
    key = f"pipeline:figures:{run.pk}:{run.finished_at.isoformat()}:{days}" if finished else ""
    figures = local_cache().get(key) if key else None
    if figures is None:
        th = selectors.thresholds()
        lag = selectors.lag_series(since, hours_since)
        figures = {
            "loss": charts.loss(selectors.loss_series(since, hours_since), th.loss_min_ratio),
            "silver": charts.lag(lag, "silver", th.lag_silver_p95_budget_s),
            "gold": charts.lag(lag, "gold", th.lag_gold_p95_budget_s),
            "volume": charts.volume(selectors.volume_by_day(since)),
        }
        if key:
            local_cache().set(key, figures, timeout=FIGURES_SECONDS)
    # Up to the end of the run: the alarms it raised come after the time it refers to.
    end = run.finished_at if finished else timezone.now()
    items = annotations_in(start=since, end=end, user=user)
    return {
        name: json_script(annotated(figure, items), f"{name}-figure")
        for name, figure in figures.items()
    }


@require_GET
@readers
def overview(request):
    form = RangeForm(request.GET)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return error_response(request, 400, f"{field}: {' '.join(errors)}")
    days = form.cleaned_data["days"] or CHART_DAYS
    as_of, run = _reference()
    since = (as_of - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    hours_since = max(since, since + timedelta(days=days - HOURLY_DAYS))
    states = {s.name: s for s in selectors.check_states()}
    context = {
        "run": run,
        "days": days,
        "hourly_days": min(days, HOURLY_DAYS),
        "states": [(check, states.get(check.value)) for check in Check],
        "figures": _figures(run, days, since, hours_since, request.user),
        "anomalies": selectors.volume_anomalies(since),
        "rates": selectors.schema_change_rates(as_of.date())[:10],
        "freshness": selectors.freshness_visible(data_scope(request.user)),
        "untriaged": selectors.untriaged_count(),
    }
    return render(request, "pipeline/overview.html", context)


@require_GET
@readers
def dead_letters(request):
    as_of, _ = _reference()
    context = {
        "groups": selectors.dead_letter_groups(since=as_of - timedelta(days=TRIAGE_DAYS)),
        "days": TRIAGE_DAYS,
    }
    return render(request, "pipeline/dead_letters.html", context)


@require_POST
@readers
@capability_required(Capability.PIPELINE_TRIAGE)
def dead_letter_triage(request, pk: int):
    group = get_object_or_404(DeadLetterReason, pk=pk)
    form = TriageForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return error_response(request, 400, f"{field}: {' '.join(errors)}")
    services.dead_letter_triage(
        reason_id=group.pk, user=request.user, note=form.cleaned_data["note"]
    )
    messages.success(request, f"Marked “{group.reason}” triaged.")
    return redirect("pipeline-dead-letters")


@require_GET
@readers
def schema_list(request):
    as_of, _ = _reference()
    context = {
        "rates": selectors.schema_change_rates(as_of.date()),
        "findings": selectors.schema_registry().findings(),
    }
    return render(request, "pipeline/schema_list.html", context)


@require_GET
@readers
def schema_detail(request, event: str):
    history = selectors.schema_history(event)
    if history is None:
        raise Http404("No such event in the schema registry.")
    findings = [f for f in selectors.schema_registry().findings() if f.event == event]
    context = {"event": event, "history": history, "findings": findings}
    return render(request, "pipeline/schema_detail.html", context)
