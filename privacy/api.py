"""The privacy API: consent for apps (service tokens) and the privacy team; DSAR requests."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.pii import ALLOWED_PII_KEYS
from portal.authentication import ServicePrincipal
from portal.permissions import allows
from portal.roles import Capability
from portal.schema import CONFLICT, FIELD_ERRORS, NOT_FOUND
from privacy import consent, selectors, services
from privacy.consent_lake import ConsentLakeUnavailable
from privacy.models import DsarRequest
from privacy.permissions import ConsentAccess
from privacy.serializers import (
    ConsentSerializer,
    ConsentUpdateSerializer,
    DsarCloseSerializer,
    DsarExtendSerializer,
    DsarFileSerializer,
    DsarListSerializer,
    DsarSerializer,
    DsarVerifySerializer,
    PiiSerializer,
    PixelsSerializer,
    identity_id_checked,
)


def _actor(request) -> str:
    return request.user.username  # service principals are "service:<token name>"


LAKE_UNAVAILABLE = OpenApiResponse(
    inline_serializer("ConsentLakeUnavailable", {"detail": serializers.CharField()}),
    description="The lake's consent_changes could not be written: nothing changed; retry later.",
)


@extend_schema(
    request=ConsentUpdateSerializer,
    responses={200: ConsentSerializer, 400: FIELD_ERRORS, 503: LAKE_UNAVAILABLE},
)
@api_view(["GET", "PUT"])
@permission_classes([IsAuthenticated, ConsentAccess])
def consent_detail(request, identity_id: str):
    """An identity's consent flags (unknown identities: all false, known false); PUT sets some,
    in the lake's consent_changes first (503 when it cannot be written: nothing changed).

    A person (the privacy team) records a change on the subject's behalf: it needs
    ``instruction`` and ``evidence`` (400 naming the one missing)."""
    identity_id = identity_id_checked(identity_id)
    if request.method == "GET":
        return Response(ConsentSerializer(selectors.consent_get(identity_id=identity_id)).data)
    manual = not isinstance(request.user, ServicePrincipal)
    serializer = ConsentUpdateSerializer(data=request.data, context={"manual": manual})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        state = consent.consent_set(
            identity_id=identity_id,
            flags=serializer.flags,
            source=data["source"],
            actor=_actor(request),
            instruction=data.get("instruction", ""),
            evidence=data.get("evidence", ""),
        )
    except ValidationError as err:
        return Response(err.message_dict, status=400)
    except ConsentLakeUnavailable as err:
        return Response({"detail": str(err)}, status=503)
    return Response(ConsentSerializer(selectors.consent_payload(state)).data)


@extend_schema(responses={200: PixelsSerializer, 400: FIELD_ERRORS})
@api_view(["GET"])
@permission_classes([IsAuthenticated, ConsentAccess])
def consent_pixels(request, identity_id: str):
    """Which marketing pixels may fire: all configured ones with marketing consent, else none."""
    identity_id = identity_id_checked(identity_id)
    pixels = selectors.consent_pixels(identity_id=identity_id)
    answer = {"identity_id": identity_id, "fire": bool(pixels), "pixels": pixels}
    return Response(PixelsSerializer(answer).data)


@extend_schema(
    methods=["GET"], operation_id="privacy_dsar_list", responses={200: DsarListSerializer}
)
@extend_schema(
    methods=["POST"],
    operation_id="privacy_dsar_file",
    request=DsarFileSerializer,
    responses={201: DsarSerializer, 400: FIELD_ERRORS},
)
@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_list(request):
    """Data subject requests (GET; ``queue``: open, overdue, closed or all), or file one (POST):
    kind (erasure or access), identity_id and/or user_id, reason."""
    if request.method == "GET":
        queue = request.query_params.get("queue", "all")
        if queue not in selectors.DSAR_QUEUES:
            return Response(
                {"queue": [f"Choose one of {', '.join(selectors.DSAR_QUEUES)}."]}, status=400
            )
        requests = selectors.dsar_list(queue=queue)
        return Response(DsarListSerializer({"requests": [_row(r) for r in requests]}).data)
    serializer = DsarFileSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        dsar = services.dsar_file(**serializer.validated_data, requester=request.user)
    except ValidationError as err:
        return Response(err.message_dict, status=400)
    except services.DsarRefused as err:
        raise PermissionDenied(str(err)) from None
    return _dsar(dsar.pk, status=201)


def _dsar(request_id: int, status: int = 200) -> Response:
    summary = selectors.dsar_summary(selectors.dsar_detail(request_id=request_id))
    return Response(DsarSerializer(summary).data, status=status)


def _row(dsar: DsarRequest) -> dict:
    return {
        "id": dsar.pk,
        "kind": dsar.kind,
        "status": dsar.status,
        "requester": dsar.requester.get_username(),
        "approved_by": dsar.approved_by.get_username() if dsar.approved_by else None,
        "filed_at": dsar.filed_at.isoformat(),
        "due_date": dsar.due_date.isoformat(),
        "days_left": None if dsar.is_closed else dsar.days_left,
        "overdue": dsar.is_overdue,
        "rows_changed": dsar.rows_changed,
    }


@extend_schema(operation_id="privacy_dsar_detail", responses={200: DsarSerializer, 404: NOT_FOUND})
@api_view(["GET"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_detail(request, request_id: int):
    """A request with its per-table progress and its audit log (no raw ids)."""
    get_object_or_404(DsarRequest, pk=request_id)
    return _dsar(request_id)


@extend_schema(request=None, responses={200: DsarSerializer, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_approve(request, request_id: int):
    """Approve a request filed by someone else."""
    get_object_or_404(DsarRequest, pk=request_id)
    try:
        services.dsar_approve(request_id=request_id, approver=request.user)
    except services.SelfApproval as err:
        raise PermissionDenied(str(err)) from None
    except services.DsarRefused as err:
        return Response({"detail": str(err)}, status=409)
    return _dsar(request_id)


@extend_schema(request=None, responses={202: DsarSerializer, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_preview(request, request_id: int):
    """Scan again what the erasure of a filed request would change (202); 409 once approved
    or closed."""
    get_object_or_404(DsarRequest, pk=request_id)
    try:
        services.dsar_preview_queue(request_id=request_id)
    except services.DsarRefused as err:
        return Response({"detail": str(err)}, status=409)
    return _dsar(request_id, status=202)


@extend_schema(request=None, responses={202: DsarSerializer, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_run(request, request_id: int):
    """Queue the erasure job of an approved request (or re-run a failed or dead one).

    409 when there is nothing to queue: not approved yet, completed, or already queued or
    running; asking again changes nothing."""
    get_object_or_404(DsarRequest, pk=request_id)
    try:
        services.dsar_queue(request_id=request_id, strict=True)
    except services.DsarRefused as err:
        return Response({"detail": str(err)}, status=409)
    return _dsar(request_id, status=202)


def _step(request_id: int, serializer_class, data, step) -> Response:
    """Validate, take one step on the request, answer it: 400 names the field, 409 says why the
    request cannot take the step."""
    get_object_or_404(DsarRequest, pk=request_id)
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    try:
        step(serializer.validated_data)
    except ValidationError as err:
        return Response(err.message_dict, status=400)
    except services.DsarRefused as err:
        return Response({"detail": str(err)}, status=409)
    return _dsar(request_id)


STEP_ANSWERS = {200: DsarSerializer, 400: FIELD_ERRORS, 404: NOT_FOUND, 409: CONFLICT}


@extend_schema(request=DsarVerifySerializer, responses=STEP_ANSWERS)
@api_view(["POST"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_verify(request, request_id: int):
    """Record how the subject's identity was verified (before approval)."""
    return _step(
        request_id,
        DsarVerifySerializer,
        request.data,
        lambda data: services.dsar_verify(request_id=request_id, actor=request.user, **data),
    )


@extend_schema(request=DsarExtendSerializer, responses=STEP_ANSWERS)
@api_view(["POST"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_extend(request, request_id: int):
    """Move the due date by ``days``, with the reason."""
    return _step(
        request_id,
        DsarExtendSerializer,
        request.data,
        lambda data: services.dsar_extend(request_id=request_id, actor=request.user, **data),
    )


@extend_schema(request=DsarCloseSerializer, responses=STEP_ANSWERS)
@api_view(["POST"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_reject(request, request_id: int):
    """Reject a request that has not run, with the reason."""
    return _step(
        request_id,
        DsarCloseSerializer,
        request.data,
        lambda data: services.dsar_close(
            request_id=request_id, status="rejected", actor=request.user, **data
        ),
    )


@extend_schema(request=DsarCloseSerializer, responses=STEP_ANSWERS)
@api_view(["POST"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_cancel(request, request_id: int):
    """Cancel a request that has not run (the subject withdrew it), with the reason."""
    return _step(
        request_id,
        DsarCloseSerializer,
        request.data,
        lambda data: services.dsar_close(
            request_id=request_id, status="cancelled", actor=request.user, **data
        ),
    )


@extend_schema(
    responses={
        (200, "application/zip"): OpenApiTypes.BINARY,
        404: NOT_FOUND,
        410: CONFLICT,
    }
)
@api_view(["GET"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def dsar_export(request, request_id: int):
    """An access request's export (a zip: one JSON file per table and a manifest); 410 once
    it expired and was deleted. Every download is audited."""
    get_object_or_404(DsarRequest, pk=request_id)
    try:
        export = services.dsar_export_download(request_id=request_id, actor=request.user)
    except services.ExportExpired as err:
        return Response({"detail": str(err)}, status=410)
    except services.DsarRefused as err:
        raise NotFound(str(err)) from None
    return FileResponse(
        export, as_attachment=True, filename=Path(export.name).name, content_type="application/zip"
    )


@extend_schema(responses={200: PiiSerializer})
@api_view(["GET"])
@permission_classes([IsAuthenticated, allows(Capability.PRIVACY)])
def pii_allowlist(request):
    """The PII keys event payloads may carry, and the latest lake payload check."""
    scan = selectors.payload_scan_latest()
    answer = PiiSerializer(
        {
            "allowed_keys": sorted(ALLOWED_PII_KEYS),
            "latest_scan": None
            if scan is None
            else {
                "started_at": scan.started_at.isoformat(),
                "start": scan.start.isoformat(),
                "end": scan.end.isoformat(),
                "run_id": scan.run_id,
                "violations": scan.violations,
            },
        }
    )
    return Response(answer.data)
