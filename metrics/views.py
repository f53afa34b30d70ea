"""Pages: the metrics catalogue, a metric's page, its CSV export, and the dashboards.

Pages render definitions and controls; numbers arrive in the browser from the metric data API
(static/metrics/dashboard.js), so a slow tile never holds up the page or another tile.
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta
from hashlib import sha256
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from core.errors import InputError
from metrics import selectors
from metrics.catalogue import Metric, UnknownMetric, load_catalogue
from metrics.dashboards import Dashboard, UnknownDashboard
from metrics.definitions import AREAS
from metrics.forms import WindowForm
from metrics.params import MetricParams, matured_params
from metrics.selectors import TileView
from metrics.serializers import translations
from metrics.services import metric_data_submit, parse_metric_params
from metrics.windows import COMPARISONS, comparison_shift, comparison_window, maturity_note
from pipeline.models import TableFreshness
from pipeline.selectors import table_freshness
from portal.local_cache import local_cache
from portal.recent import dashboard_viewed
from portal.roles import data_scope
from portal.throttles import query_throttled
from warehouse import selectors as run_selectors
from warehouse import watermark
from warehouse.exports import csv_download, csv_preparing
from warehouse.lake import contract
from warehouse.lake import views as lake_views
from warehouse.services import DataAccessDenied, RunLimitReached, query_answer

METRIC_PAGE_DAYS = 28
PRESET_DAYS = (7, 28, 90)


@require_GET
def metric_list(request):
    q = request.GET.get("q", "").strip()
    catalogue = load_catalogue()
    metrics = selectors.metrics_visible(data_scope(request.user), q=q, catalogue=catalogue)
    areas = [(title, [m for m in metrics if m.area == area]) for area, title in AREAS.items()]
    broken = sorted(catalogue.broken.values(), key=lambda b: b.slug)
    return render(
        request,
        "metrics/catalogue.html",
        {"areas": areas, "q": q, "count": len(metrics), "broken": broken},
    )


@dataclass(frozen=True)
class Chart:
    """Where a chart gets its numbers: the data API for the window (and the one it is compared
    with), and how the comparison's periods are moved to lie under the window's."""

    page_url: str
    url: str
    compare_url: str | None
    compare_label: str  # the comparison's name: the series' and the headline's
    csv_url: str
    start: str  # ISO dates: the template writes them as they are
    end: str
    shift_days: int
    shift_months: int
    grain: str
    # Set when the chart shows a censored metric's latest matured window instead of the one
    # asked for: the tile says so.
    maturity_note: str = ""


def _chart(
    metric: Metric, params: MetricParams, compare: str, *, data_as_of: str | None = None
) -> Chart:
    """``data_as_of`` (the newest partition) moves a censored metric's window back to its
    latest matured cohorts (metrics.params.matured_params, as warming does); the comparison
    window follows the window shown."""
    asked = params
    params = matured_params(metric, params, data_as_of)
    note = ""
    if params != asked and metric.matures_after_days is not None:
        note = maturity_note(params.start, params.end, matures_after_days=metric.matures_after_days)
    query = {"start": params.start, "end": params.end, "grain": params.grain}
    if params.split_by:
        query["split_by"] = params.split_by
    query.update(params.filters)
    page = reverse("metric-detail", args=[metric.slug])
    api = reverse("api-metric-data", args=[metric.slug])
    compare_url = None
    if (window := comparison_window(params.start, params.end, compare, params.grain)) is not None:
        compare_url = f"{api}?{urlencode({**query, 'start': window[0], 'end': window[1]})}"
    shift_days, shift_months = comparison_shift(params.start, params.end, compare, params.grain)
    return Chart(
        page_url=page,
        url=f"{api}?{urlencode(query)}",
        compare_url=compare_url,
        compare_label=COMPARISONS[compare],
        # Pages live under the metric's page: no second reverse() per tile.
        csv_url=f"{page}data.csv?{urlencode(query)}",
        start=params.start.isoformat(),
        end=params.end.isoformat(),
        shift_days=shift_days,
        shift_months=shift_months,
        grain=params.grain,
        maturity_note=note,
    )


@dataclass(frozen=True)
class Picker:
    """A filter control: the dimension, its value ("" for every value), where its choices come
    from (the values API: the values of the window with their rows; none when the window is
    not valid), and on a dashboard how many tiles it applies to and whose values it offers."""

    name: str
    value: str
    values_url: str = ""
    applies: str = ""
    source: str = ""


def _values_url(slug: str, dimension: str, form: WindowForm) -> str:
    path = reverse("api-metric-values", args=[slug, dimension])
    window = {"start": form.cleaned_data["start"], "end": form.cleaned_data["end"]}
    return f"{path}?{urlencode(window)}"


def _data_as_of() -> str | None:
    return watermark.current(settings.WAREHOUSE).max_partition


@require_GET
def metric_detail(request, slug: str):
    scope = data_scope(request.user)
    try:
        metric = selectors.metric_visible(slug, scope)
    except UnknownMetric:
        raise Http404("No such metric.") from None
    data_as_of = _data_as_of()
    form = WindowForm(
        request.GET,
        data_as_of=data_as_of,
        days=METRIC_PAGE_DAYS,
        grain="day" if "day" in metric.grains else metric.grains[0],
        compare=True,
        today=timezone.localdate(),
        grains=metric.grains,
        dimensions=metric.dimensions,
    )
    chart = error = None
    split_by = request.GET.get("split_by", "")
    valid = form.is_valid()
    if valid:
        window = form.cleaned_data
        query = {
            "start": window["start"].isoformat(),
            "end": window["end"].isoformat(),
            "grain": window["grain"],
            "split_by": split_by,
            **form.filters,
        }
        try:
            params = parse_metric_params(metric, query)
            chart = _chart(metric, params, form.comparison, data_as_of=data_as_of)
        except InputError as err:
            error = (err.field, err.message)
    else:
        error = form.first_error()
    pickers = [
        Picker(
            name=name,
            value=form.data[name],
            values_url=_values_url(metric.slug, name, form) if valid else "",
        )
        for name in metric.dimensions
    ]
    context = {
        "metric": metric,
        "form": form,
        "split_by": split_by,
        "pickers": pickers,
        "chart": chart,
        "error": error,
        "translations": translations(metric),
        "lineage": _lineage(metric),
        "runs": selectors.metric_runs(metric, scope),
    }
    return render(request, "metrics/metric_detail.html", context, status=400 if error else 200)


def _lineage(metric: Metric) -> list[tuple[contract.Table, list[str], TableFreshness | None]]:
    """Each table the metric reads, the columns it reads there, and how fresh its data is: a
    view is as fresh as the stalest table under it (None: not checked yet)."""
    tables = [contract.table(name) for name in metric.columns]
    sources = {t.name: sorted(lake_views.bases(t)) if t.is_view else [t.name] for t in tables}
    fresh = table_freshness(name for names in sources.values() for name in names)

    def age(row: TableFreshness) -> float:
        return math.inf if row.age_s is None else row.age_s  # no recent data: the stalest

    def stalest(names: list[str]) -> TableFreshness | None:
        if not all(name in fresh for name in names):
            return None
        return max((fresh[name] for name in names), key=age)

    return [(t, sorted(metric.columns[t.name]), stalest(sources[t.name])) for t in tables]


@require_GET
@query_throttled
def metric_data_csv(request, slug: str):
    """The metric's data as CSV, by the same path (and access check) as the API: the file when
    the result is ready (after a short wait), else a page that reloads this link until it is."""
    try:
        metric = load_catalogue().get(slug)
    except UnknownMetric:
        raise Http404("No such metric.") from None
    if (failed := run_selectors.run_failed(request.GET.get("run"), request.user)) is not None:
        message = f"The query failed: {failed.error}"
        return _data_error(request, metric, message, status=502, run=failed)
    try:
        params = parse_metric_params(metric, request.GET)
        submission = metric_data_submit(metric=metric, params=params, user=request.user)
    except InputError as err:
        return _data_error(request, metric, f"{err.field}: {err.message}", status=400)
    except DataAccessDenied as err:
        return _data_error(request, metric, str(err), status=403)
    except RunLimitReached as err:
        return _data_error(request, metric, str(err), status=429)
    answer = query_answer(submission=submission, wait_s=settings.QUERY_WAIT_SECONDS)
    if answer.pending:
        back = reverse("metric-detail", args=[slug])
        return csv_preparing(request, answer=answer, title=metric.title, back_url=back)
    if answer.failed:
        return _data_error(request, metric, answer.error, status=502, run=answer.run)
    name = f"{metric.slug}_{params.start}_{params.end}_{params.grain}.csv"
    return csv_download(answer.result, name)


def _data_error(request, metric: Metric, message: str, *, status: int, run=None):
    context = {"metric": metric, "message": message, "run": run}
    return render(request, "metrics/data_error.html", context, status=status)


@require_GET
def dashboard_list(request):
    visible = selectors.dashboards_visible(data_scope(request.user))
    return render(request, "metrics/dashboard_list.html", {"dashboards": visible})


@dataclass(frozen=True)
class TileCard:
    view: TileView
    chart: Chart | None
    # Says which of the dashboard's filters the tile's metric cannot take.
    filter_note: str = ""


@require_GET
def dashboard_detail(request, slug: str):
    try:
        dashboard, tiles = selectors.dashboard_visible(slug, data_scope(request.user))
    except UnknownDashboard:
        raise Http404("No such dashboard.") from None
    data_as_of = _data_as_of()
    shared = _shared_dimensions(tiles)
    form = WindowForm(
        request.GET,
        data_as_of=data_as_of,
        days=dashboard.default_days,
        grain=dashboard.default_grain,
        compare=dashboard.default_compare,
        today=timezone.localdate(),
        dimensions=tuple(shared),
    )
    valid = form.is_valid()
    charted = sum(view.metric is not None for view in tiles)
    pickers = [
        Picker(
            name=name,
            value=form.data[name],
            values_url=_values_url(metrics[0].slug, name, form) if valid else "",
            applies=f"on {len(metrics)} of {charted} tile{'s' if charted != 1 else ''}",
            source=metrics[0].title,
        )
        for name, metrics in shared.items()
    ]
    context = {
        "dashboard": dashboard,
        "form": form,
        "error": None if valid else form.first_error(),
        "pickers": pickers,
        "tiles_html": _tiles_html(dashboard, tiles, form, data_as_of) if valid else "",
        "presets": _presets(request, form, data_as_of),
        "data_as_of": data_as_of,
    }
    status = 200 if valid else 400
    response = render(request, "metrics/dashboard_detail.html", context, status=status)
    return dashboard_viewed(request, response, slug)


def _shared_dimensions(tiles: list[TileView]) -> dict[str, list[Metric]]:
    """Each dimension of the tiles' metrics (in the order the tiles first name it) with the
    metrics that have it: a dashboard-wide filter applies to those tiles. Its picker offers the
    values of the first of them (one query per filter, not one per tile)."""
    shared: dict[str, list[Metric]] = {}
    for view in tiles:
        if view.metric is not None:
            for name in view.metric.dimensions:
                shared.setdefault(name, []).append(view.metric)
    return shared


def _tiles_html(
    dashboard: Dashboard, tiles: list[TileView], form: WindowForm, data_as_of: str | None = None
) -> str:
    """The tiles of a dashboard for a window, comparison and filters. They hold no numbers and
    nothing of the user (the browser fetches the data), only what the key names, so every user
    who sees the same tiles shares one rendering; a changed definition or tile set is a new
    key."""
    window = form.cleaned_data
    filters = form.filters
    # The whole definitions: a changed title or query is a new key. The newest partition
    # decides the windows of censored metrics.
    seen = (
        dashboard,
        tiles,
        window["start"],
        window["end"],
        window["grain"],
        form.comparison,
        sorted(filters.items()),
        data_as_of,
    )
    key = "tiles:" + sha256(repr(seen).encode()).hexdigest()
    if (html := local_cache().get(key)) is not None:
        return mark_safe(html)  # noqa: S308 - our own rendering, escaped when it was made
    cards = []
    for view in tiles:
        if view.metric is None:
            cards.append(TileCard(view=view, chart=None))
            continue
        dimensions = view.metric.dimensions
        params = MetricParams(
            start=window["start"],
            end=window["end"],
            grain=view.grain(window["grain"]),
            split_by=view.tile.split_by,
            filters={name: value for name, value in filters.items() if name in dimensions},
        )
        chart = _chart(view.metric, params, form.comparison, data_as_of=data_as_of)
        note = _unfiltered_note([name for name in filters if name not in dimensions])
        cards.append(TileCard(view=view, chart=chart, filter_note=note))
    html = render_to_string(
        "metrics/_tiles.html", {"cards": cards, "requested_grain": window["grain"]}
    )
    local_cache().set(key, html)
    return html


def _unfiltered_note(dimensions: list[str]) -> str:
    """What a tile says when its metric lacks some of the dashboard's filtered dimensions: its
    numbers are for every value of them."""
    if not dimensions:
        return ""
    *rest, last = dimensions
    names = f"{', '.join(rest)} or {last}" if rest else last
    lacks = "no such dimension" if len(dimensions) == 1 else "none of these dimensions"
    return f"Not filtered by {names}: this metric has {lacks}."


def _presets(request, form: WindowForm, data_as_of: str | None) -> list[tuple[int, str, bool]]:
    """Quick "last N days" links ending at the newest data, keeping the other controls."""
    end = date.fromisoformat(data_as_of) if data_as_of else timezone.localdate()
    chosen = form.cleaned_data if form.is_valid() else {}
    links = []
    for days in PRESET_DAYS:
        start = end - timedelta(days=days - 1)
        query = request.GET.copy()
        query["start"], query["end"] = start.isoformat(), end.isoformat()
        current = chosen.get("start") == start and chosen.get("end") == end
        links.append((days, "?" + query.urlencode(), current))
    return links
