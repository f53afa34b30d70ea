"""The metrics REST API: catalogue, metric data (200 cached / 202 queued), dashboards.

Access as on the pages: a metric whose tables the user may not read does not exist for them
(404 on its detail, absent from lists), and asking for its data is refused (403).
"""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from metrics import selectors
from metrics.catalogue import UnknownMetric, load_catalogue
from metrics.dashboards import UnknownDashboard
from metrics.serializers import (
    DashboardDetailSerializer,
    DashboardSerializer,
    DataOptionsSerializer,
    MetricDataSerializer,
    MetricDetailSerializer,
    MetricSerializer,
    RunQueuedSerializer,
    data_payload,
    queued_payload,
)
from metrics.services import metric_data_submit, parse_metric_params
from metrics.windows import default_window
from portal.roles import data_scope
from portal.schema import FIELD_ERRORS, NOT_FOUND, RUN_LIMIT
from portal.throttles import QUERY_THROTTLES
from warehouse import watermark


@extend_schema(
    operation_id="metric_list",
    parameters=[OpenApiParameter("q", str, description="Words that must all appear.")],
    responses=MetricSerializer(many=True),
)
@api_view(["GET"])
def metric_list(request):
    """Every metric of the catalogue whose data you may read, by area."""
    metrics = selectors.metrics_visible(
        data_scope(request.user), q=request.query_params.get("q", "")
    )
    return Response(MetricSerializer(metrics, many=True).data)


@extend_schema(
    operation_id="metric_retrieve", responses={200: MetricDetailSerializer, 404: NOT_FOUND}
)
@api_view(["GET"])
def metric_detail(request, slug: str):
    """A metric's definition: header, canonical SQL, translation per engine, lineage."""
    try:
        metric = selectors.metric_visible(slug, data_scope(request.user))
    except UnknownMetric:
        raise NotFound(f"No metric {slug!r}.") from None
    return Response(MetricDetailSerializer(metric).data)


@extend_schema(
    operation_id="metric_data",
    parameters=[
        OpenApiParameter("start", OpenApiTypes.DATE, required=True),
        OpenApiParameter("end", OpenApiTypes.DATE, required=True),
        OpenApiParameter("grain", str, enum=["day", "week", "month"]),
        OpenApiParameter("split_by", str, description="One of the metric's dimensions."),
        OpenApiParameter(
            "force_refresh",
            bool,
            description="Run again even if cached: honoured for roles that may pay for scans "
            "(QUERY_FORCE_REFRESH_ROLES), for results older than QUERY_FORCE_REFRESH_MIN_AGE_"
            "SECONDS, a few times an hour; otherwise the cached result is served.",
        ),
    ],
    responses={
        200: MetricDataSerializer,
        202: RunQueuedSerializer,
        400: FIELD_ERRORS,
        403: OpenApiResponse(description="You may not read the data this metric reads."),
        404: NOT_FOUND,
        429: RUN_LIMIT,
    },
)
@api_view(["GET"])
@throttle_classes(QUERY_THROTTLES)
def metric_data(request, slug: str):
    """The metric per period: 200 with the result when cached, else 202 with a run to poll at
    /api/runs/<run_id>; once it succeeded the same request answers 200 from the cache.

    Besides the parameters below, each of the metric's dimensions is an optional filter under
    its own name (e.g. channel=email)."""
    try:
        metric = load_catalogue().get(slug)
    except UnknownMetric:
        raise NotFound(f"No metric {slug!r}.") from None
    options = DataOptionsSerializer(data=request.query_params)
    options.is_valid(raise_exception=True)
    params = parse_metric_params(metric, request.query_params)
    submission = metric_data_submit(
        metric=metric,
        params=params,
        user=request.user,
        force_refresh=options.validated_data["force_refresh"],
    )
    if submission.cached is not None:
        return Response(data_payload(metric, params, submission.cached))
    return Response(queued_payload(metric, submission.run), status=202)


@extend_schema(operation_id="dashboard_list", responses=DashboardSerializer(many=True))
@api_view(["GET"])
def dashboard_list(request):
    """The dashboards with at least one tile you may read."""
    visible = selectors.dashboards_visible(data_scope(request.user))
    return Response(DashboardSerializer([d for d, _ in visible], many=True).data)


@extend_schema(
    operation_id="dashboard_retrieve", responses={200: DashboardDetailSerializer, 404: NOT_FOUND}
)
@api_view(["GET"])
def dashboard_detail(request, slug: str):
    """A dashboard's tiles (those you may read) and its default window, which ends at the
    newest partition of the lake. Fetch each tile from its metric's data endpoint."""
    try:
        dashboard, tiles = selectors.dashboard_visible(slug, data_scope(request.user))
    except UnknownDashboard:
        raise NotFound(f"No dashboard {slug!r}.") from None
    data_as_of = watermark.current(settings.WAREHOUSE).max_partition
    window = default_window(
        data_as_of=data_as_of, days=dashboard.default_days, today=timezone.localdate()
    )
    context = {"tiles": tiles, "default_window": window, "data_as_of": data_as_of}
    return Response(DashboardDetailSerializer(dashboard, context=context).data)
