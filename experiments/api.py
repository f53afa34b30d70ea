import datetime

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import (
    api_view,
    permission_classes,
    renderer_classes,
    throttle_classes,
)
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from experiments import queries, selectors, serializers
from experiments.assignment import assign
from experiments.catalogue import titles_for
from experiments.outcomes import baseline_from_row, grouped_by, ratio_baseline
from metrics.catalogue import load_catalogue
from portal.authentication import has_token_scope
from portal.permissions import allows
from portal.roles import Capability, data_scope
from portal.schema import FIELD_ERRORS, NOT_FOUND, RUN_LIMIT
from portal.throttles import QUERY_THROTTLES
from warehouse import services as warehouse_services
from warehouse import watermark
from warehouse.serializers import RunFailedSerializer, RunPendingSerializer

ASSIGNMENT_SCOPE = "assignment:read"

readers = allows(Capability.EXPERIMENTS_READ)


@extend_schema(
    request=serializers.CompareRequestSerializer,
    responses={200: serializers.CompareSerializer, 400: FIELD_ERRORS},
)
@api_view(["POST"])
@permission_classes([readers])
def stats_compare(request):
    """Compare variants from their sufficient statistics (proportions, means or ratios; CUPED
    when the covariate sums are given)."""
    body = serializers.CompareRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return Response(
        serializers.CompareSerializer(serializers.compare_payload(body.validated_data)).data
    )


@extend_schema(
    request=serializers.MdeRequestSerializer,
    responses={200: serializers.MdeSerializer, 400: FIELD_ERRORS},
)
@api_view(["POST"])
@permission_classes([readers])
def stats_mde(request):
    """Sample size and days for an MDE, or the MDE of a sample; with a curve of both."""
    body = serializers.MdeRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return Response(serializers.MdeSerializer(serializers.mde_payload(*body.validated_data)).data)


@extend_schema(
    parameters=[serializers.BaselineQuerySerializer],
    responses={
        200: serializers.BaselineSerializer,
        202: RunPendingSerializer,
        400: FIELD_ERRORS,
        429: RUN_LIMIT,
        502: RunFailedSerializer,
    },
)
@api_view(["GET"])
@permission_classes([readers])
@throttle_classes(QUERY_THROTTLES)
def stats_baseline(request):
    """Baseline rate, mean, standard deviation, pre-period correlation and daily traffic of
    experiment units over the last `days` days of data (all experiments, or `experiment_key`):
    of the outcome metrics, or of one catalogue ratio metric (`metric`). 200 with the numbers
    when ready, 202 while the query runs (ask again)."""
    query = serializers.BaselineQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    key, days = query.validated_data["experiment_key"], query.validated_data["days"]
    slug = query.validated_data["metric"]
    experiment = selectors.experiment_get(key) if key else None
    control = experiment.variant_names[0] if experiment else "control"
    end = _last_day_of_data()
    start = end - datetime.timedelta(days=days - 1)
    if slug:
        sql, params = queries.metric_unit_stats(load_catalogue().get(slug), key, start, end)
    else:
        sql, params = queries.baseline(start, end, key, control)
    submission = warehouse_services.query_submit(
        sql=sql,
        params=params,
        scope=data_scope(request.user),
        user=request.user,
        label="experiment baseline",
    )
    answer = warehouse_services.query_answer(
        submission=submission, wait_s=settings.QUERY_WAIT_SECONDS
    )
    if answer.pending:
        return Response(
            {"status": answer.run.status, "run_id": answer.run_id, "poll_url": answer.poll_url},
            status=202,
        )
    if answer.failed:
        return Response(
            {"status": answer.run.status, "run_id": answer.run_id, "error": answer.error},
            status=502,
        )
    cached = answer.result
    if slug:
        baseline = ratio_baseline(grouped_by(cached.frame.to_dict("records"), "day"), control)
    else:
        baseline = baseline_from_row(cached.frame.iloc[0].to_dict())
    answer = serializers.BaselineSerializer(
        {
            "status": "succeeded",
            "run_id": cached.run_id,
            "experiment_key": key or None,
            "metric": slug or None,
            "window": {"start": start.isoformat(), "end": end.isoformat(), "days": days},
            "baseline": {
                "days_with_data": baseline.days,
                "daily_units": baseline.daily_units,
                "control_units": baseline.control_units,
                "conversion_rate": baseline.conversion_rate,
                "mean": baseline.mean,
                "std": baseline.std,
                "correlation": baseline.correlation,
            },
        }
    )
    return Response(answer.data)


def _last_day_of_data() -> datetime.date:
    mark = watermark.current(settings.WAREHOUSE).max_partition
    if mark:
        return datetime.date.fromisoformat(mark)
    return datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)


@extend_schema(
    operation_id="experiments_list", responses=serializers.ExperimentSerializer(many=True)
)
@api_view(["GET"])
@permission_classes([readers])
def experiment_list(request):
    payloads = [serializers.experiment_payload(e) for e in selectors.experiment_list()]
    return Response(serializers.ExperimentSerializer(payloads, many=True).data)


@extend_schema(responses={200: serializers.ExperimentDetailSerializer, 404: NOT_FOUND})
@api_view(["GET"])
@permission_classes([readers])
def experiment_detail(request, key: str):
    experiment = _experiment(key)
    payload = serializers.experiment_payload(experiment)
    payload["changes"] = [
        serializers.change_payload(c) for c in selectors.experiment_changes(experiment)
    ]
    return Response(serializers.ExperimentDetailSerializer(payload).data)


@extend_schema(responses={200: serializers.ResultsSerializer, 404: NOT_FOUND})
@api_view(["GET"])
@permission_classes([readers])
def experiment_results(request, key: str):
    """The latest results: per metric and variant, lift with intervals, p-value, P(beat),
    SRM, time to decision and the decision lines."""
    experiment = _experiment(key)
    selectors.results_readable(data_scope(request.user))
    computation = selectors.latest_success(experiment)
    latest = selectors.latest_computation(experiment)
    failure = latest if latest is not None and latest != computation else None
    titles = titles_for([slug for slug, _ in experiment.metrics()])
    lake = selectors.lake_status_shown(computation, request.user) if computation else None
    payload = serializers.results_payload(experiment, computation, failure, titles, lake)
    return Response(serializers.ResultsSerializer(payload).data)


@extend_schema(
    parameters=[serializers.AssignmentQuerySerializer],
    responses={200: serializers.AssignmentSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND},
)
@api_view(["GET"])
@renderer_classes([JSONRenderer])
@permission_classes([has_token_scope(ASSIGNMENT_SCOPE) | readers])
def assignment(request, key: str):
    """The unit's variant. Known crawlers (by `user_agent`, else the User-Agent header) and
    every unit of an experiment that is not running get control."""
    query = serializers.AssignmentQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    unit = query.validated_data["unit"]
    config = selectors.assignment_config(key)
    if config is None:
        raise Http404
    user_agent = query.validated_data.get("user_agent") or request.META.get("HTTP_USER_AGENT")
    result = assign(config, unit, user_agent)
    answer = serializers.AssignmentSerializer(
        {
            "experiment": key,
            "unit": unit,
            "variant": result.variant,
            "reason": result.reason,
            "bucket": result.bucket,
        }
    )
    return Response(answer.data)


def _experiment(key: str):
    experiment = selectors.experiment_get(key)
    if experiment is None:
        raise Http404
    return experiment
