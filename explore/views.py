"""Pages: the explore view of a metric, and its table as CSV or XLSX.

The page holds the controls and no numbers: static/explore/explore.js asks the explore API
with the page's own query string, so the URL is the whole state and a link reproduces it.
"""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from core.errors import InputError
from explore import exports, selectors
from explore.forms import MAX_TOP
from explore.frames import GRAINS, SQL_GRAIN, Kind
from explore.services import explore_submit
from metrics.catalogue import UnknownMetric
from metrics.windows import COMPARISONS
from portal.roles import data_scope
from portal.throttles import query_throttled
from warehouse import selectors as run_selectors
from warehouse.exports import csv_preparing
from warehouse.services import DataAccessDenied, RunLimitReached, query_answer

CONTROLS = ("start", "end", "grain", "compare", "split_by", "top")


@require_GET
def explore(request):
    scope = data_scope(request.user)
    metrics = selectors.explorable_metrics(scope)
    slug = request.GET.get("metric")
    context = {
        "metrics": metrics,
        "metric": None,
        "state": None,
        "error": None,
        "pickers": [],
        "max_top": MAX_TOP,
    }
    if not slug:
        return render(request, "explore/explore.html", context)
    try:
        metric = selectors.explorable_metric(slug, scope)
    except UnknownMetric:
        raise Http404("No such metric.") from None
    context.update(metric=metric, grains=_grains(metric))
    context["comparisons"] = COMPARISONS.items()
    # The controls show what was asked, or what the state made of it (its defaults filled in).
    context["controls"] = {name: request.GET.get(name, "") for name in CONTROLS}
    try:
        state = selectors.state_from_query(metric, request.GET)
    except InputError as err:
        context["error"] = (err.field, err.message)
        return render(request, "explore/explore.html", context, status=400)
    query = state.urlencode()
    context["controls"].update(state.query(), top=str(state.top), split_by=state.split_by or "")
    context.update(
        state=state,
        data_url=f"{reverse('api-explore-data')}?{query}",
        csv_url=f"{reverse('explore-export-csv')}?{query}",
        xlsx_url=f"{reverse('explore-export-xlsx')}?{query}",
        pickers=[
            (name, state.filters.get(name, ""), _values_url(metric.slug, name, state))
            for name in metric.dimensions
        ],
    )
    return render(request, "explore/explore.html", context)


def _grains(metric) -> list[str]:
    adds_up = Kind(is_ratio=metric.is_ratio, unit=metric.unit).additive
    return [g for g in GRAINS if SQL_GRAIN[g] in metric.grains and (g != "quarter" or adds_up)]


def _values_url(slug: str, dimension: str, state) -> str:
    path = reverse("api-metric-values", args=[slug, dimension])
    return f"{path}?start={state.start}&end={state.end}"


@require_GET
@query_throttled
def export(request, fmt: str):
    """The view's table as a file once its runs are done (after a short wait), else a page that
    reloads this link until they are."""
    scope = data_scope(request.user)
    try:
        metric = selectors.explorable_metric(request.GET.get("metric", ""), scope)
    except UnknownMetric:
        raise Http404("No such metric.") from None
    if (failed := run_selectors.run_failed(request.GET.get("run"), request.user)) is not None:
        return _error(request, metric, f"The query failed: {failed.error}", 502)
    try:
        state = selectors.state_from_query(metric, request.GET)
        submissions = explore_submit(state=state, user=request.user)
    except InputError as err:
        return _error(request, metric, f"{err.field}: {err.message}", 400)
    except DataAccessDenied as err:
        return _error(request, metric, str(err), 403)
    except RunLimitReached as err:
        return _error(request, metric, str(err), 429)
    results = []
    for submission in submissions:
        answer = query_answer(submission=submission, wait_s=settings.QUERY_WAIT_SECONDS)
        if answer.pending:
            back = f"{reverse('explore')}?{state.urlencode()}"
            return csv_preparing(request, answer=answer, title=metric.title, back_url=back)
        if answer.failed:
            return _error(request, metric, answer.error, 502)
        results.append(answer.result)
    return exports.download(selectors.explored(state, results), fmt)


def _error(request, metric, message: str, status: int):
    context = {"metric": metric, "message": message}
    return render(request, "explore/export_error.html", context, status=status)
