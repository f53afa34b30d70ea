"""The explore API: a metric's explore view as numbers, and the values of its dimensions.

Access as on the metric's pages: a metric the user may not read does not exist for them (404,
the same answer as for an unknown slug), for its view and its values alike.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from core.errors import InputError
from explore import selectors, serializers
from explore.forms import MAX_TOP
from explore.frames import GRAINS
from explore.services import explore_submit, metric_values_submit
from metrics.catalogue import Metric, UnknownMetric
from metrics.windows import COMPARISONS
from portal.roles import data_scope
from portal.schema import FIELD_ERRORS, NOT_FOUND, RUN_LIMIT
from portal.throttles import QUERY_THROTTLES


def visible_metric(request, slug: str | None) -> Metric:
    if not slug:
        raise InputError("metric", "is required: the slug of a metric")
    try:
        return selectors.explorable_metric(slug, data_scope(request.user))
    except UnknownMetric:
        raise NotFound(f"No metric {slug!r}.") from None


@extend_schema(
    operation_id="explore_data",
    parameters=[
        OpenApiParameter("metric", str, required=True, description="A metric's slug."),
        OpenApiParameter("start", OpenApiTypes.DATE, description="Default: 28 days of data."),
        OpenApiParameter("end", OpenApiTypes.DATE, description="Default: the newest data."),
        OpenApiParameter("grain", str, enum=list(GRAINS)),
        OpenApiParameter("compare", str, enum=list(COMPARISONS)),
        OpenApiParameter("split_by", str, description="One of the metric's dimensions."),
        OpenApiParameter("top", int, description=f"Values of the breakdown shown, 1-{MAX_TOP}."),
    ],
    responses={
        200: serializers.ExploreDataSerializer,
        202: serializers.ExploreQueuedSerializer,
        400: FIELD_ERRORS,
        404: NOT_FOUND,
        429: RUN_LIMIT,
    },
)
@api_view(["GET"])
@throttle_classes(QUERY_THROTTLES)
def explore_data(request):
    """A metric by grain, broken down into its top values plus Other, filtered, and compared
    with another window: 200 when every run it needs is cached, else 202 with a run to poll.

    Each of the metric's dimensions is an optional filter under its own name."""
    metric = visible_metric(request, request.query_params.get("metric"))
    state = selectors.state_from_query(metric, request.query_params)
    submissions = explore_submit(state=state, user=request.user)
    if (run := serializers.first_pending(submissions)) is not None:
        return Response(serializers.queued_payload(metric.slug, run), status=202)
    return Response(serializers.explore_payload_of(state, [s.cached for s in submissions]))


@extend_schema(
    operation_id="metric_values",
    parameters=[
        OpenApiParameter("start", OpenApiTypes.DATE, required=True),
        OpenApiParameter("end", OpenApiTypes.DATE, required=True),
    ],
    responses={
        200: serializers.MetricValuesSerializer,
        202: serializers.ExploreQueuedSerializer,
        400: FIELD_ERRORS,
        404: NOT_FOUND,
        429: RUN_LIMIT,
    },
)
@api_view(["GET"])
@throttle_classes(QUERY_THROTTLES)
def metric_values(request, slug: str, dimension: str):
    """The values of one of the metric's dimensions in the window, most rows first, with how
    many rows of the metric's data hold each: 200 when cached, else 202 with a run to poll."""
    metric = visible_metric(request, slug)
    submission = metric_values_submit(
        metric=metric, dimension=dimension, query=request.query_params, user=request.user
    )
    if submission.cached is None:
        return Response(serializers.queued_payload(metric.slug, submission.run), status=202)
    return Response(serializers.values_payload(metric.slug, dimension, submission.cached))
