"""The privacy API: consent for apps (service tokens) and the privacy team; DSAR requests."""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.pii import ALLOWED_PII_KEYS
from portal.permissions import allows
from portal.roles import Capability
from portal.schema import CONFLICT, FIELD_ERRORS, NOT_FOUND
from privacy import selectors, services
from privacy.models import DsarRequest
from privacy.permissions import ConsentAccess
from privacy.serializers import (
    ConsentSerializer,
    ConsentUpdateSerializer,
    DsarFileSerializer,
    DsarListSerializer,
    DsarSerializer,
    PiiSerializer,
    PixelsSerializer,
    identity_id_checked,
)


def _actor(request) -> str:
    return request.user.username  # service principals are "service:<token name>"


@extend_schema(
    request=ConsentUpdateSerializer, responses={200: ConsentSerializer, 400: FIELD_ERRORS}
)
@api_view(["GET", "PUT"])
@permission_classes([IsAuthenticated, ConsentAccess])
def consent_detail(request, identity_id: str):
    """An identity's consent flags (unknown identities: all false, known false); PUT sets some."""
    identity_id = identity_id_checked(identity_id)
    if request.method == "GET":
        return Response(ConsentSerializer(selectors.consent_get(identity_id=identity_id)).data)
    serializer = ConsentUpdateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    state = services.consent_set(
        identity_id=identity_id,
        flags=serializer.flags,
        source=serializer.validated_data["source"],
        actor=_actor(request),
    )
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
    """Erasure requests (GET), or file one (POST): identity_id and/or user_id, reason."""
    if request.method == "GET":
        requests = selectors.dsar_list()
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
        "status": dsar.status,
        "requester": dsar.requester.get_username(),
        "approved_by": dsar.approved_by.get_username() if dsar.approved_by else None,
        "filed_at": dsar.filed_at.isoformat(),
        "due_date": dsar.due_date.isoformat(),
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
