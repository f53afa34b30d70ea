from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from portal.permissions import allows
from portal.roles import Capability, data_scope
from portal.schema import FIELD_ERRORS, NOT_FOUND, RUN_LIMIT
from portal.throttles import QUERY_THROTTLES
from warehouse import selectors, services
from warehouse.models import QueryRun
from warehouse.serializers import (
    QueryAnswerSerializer,
    QuerySubmitSerializer,
    cached_payload,
    run_payload,
)
from warehouse.sql import SqlError


@extend_schema(
    request=QuerySubmitSerializer,
    responses={
        200: QueryAnswerSerializer,
        202: QueryAnswerSerializer,
        400: FIELD_ERRORS,
        429: RUN_LIMIT,
    },
)
@api_view(["POST"])
@permission_classes([IsAuthenticated, allows(Capability.QUERIES)])
@throttle_classes(QUERY_THROTTLES)
def query_submit(request):
    """Run canonical (Athena-dialect) SQL: 200 with the result if ready soon, else 202."""
    serializer = QuerySubmitSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        submission = services.query_submit(
            sql=data["sql"],
            params=data["params"],
            scope=data_scope(request.user),
            user=request.user,
            engine=data.get("engine"),
            label=data["label"],
            force_refresh=data["force_refresh"],
        )
    except SqlError as err:
        return Response({"sql": [str(err)]}, status=400)
    answer = services.query_answer(submission=submission, wait_s=settings.QUERY_WAIT_SECONDS)
    if answer.run is None:
        return Response(cached_payload(answer.result))
    return Response(run_payload(answer.run, answer.result), status=202 if answer.pending else 200)


@extend_schema(responses={200: QueryAnswerSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def run_detail(request, run_id: int):
    """A query run's status and statistics, with its result once it succeeded."""
    run = get_object_or_404(QueryRun, pk=run_id)
    if not selectors.run_readable(run, request.user):
        raise PermissionDenied("You do not have access to the data this run read.")
    return Response(run_payload(run, selectors.run_result(run)))
