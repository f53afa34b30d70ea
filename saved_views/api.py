"""Saved views over the API: list mine and those shared with my roles, save one, rename or
share it, delete it (the owner only)."""

from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import PermissionDenied as Forbidden
from rest_framework.response import Response

from portal.permissions import IsPortalUser
from portal.schema import FIELD_ERRORS, NOT_FOUND
from saved_views import selectors, services
from saved_views.serializers import (
    SavedViewCreateSerializer,
    SavedViewListSerializer,
    SavedViewSerializer,
    SavedViewUpdateSerializer,
    saved_view_data,
)


@extend_schema(methods=["GET"], operation_id="saved_views_list", responses=SavedViewListSerializer)
@extend_schema(
    methods=["POST"],
    operation_id="saved_views_create",
    request=SavedViewCreateSerializer,
    responses={201: SavedViewSerializer, 400: FIELD_ERRORS},
)
@api_view(["GET", "POST"])
@permission_classes([IsPortalUser])
def view_list(request):
    if request.method == "GET":
        views = selectors.saved_views_for(request.user)
        return Response({"views": [saved_view_data(v, request.user) for v in views]})
    serializer = SavedViewCreateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        view = services.saved_view_create(owner=request.user, **serializer.validated_data)
    except ValidationError as err:
        return Response(err.message_dict, status=400)
    return Response(saved_view_data(view, request.user), status=201)


@extend_schema(
    methods=["GET"],
    operation_id="saved_views_detail",
    responses={200: SavedViewSerializer, 404: NOT_FOUND},
)
@extend_schema(
    methods=["PATCH"],
    operation_id="saved_views_update",
    request=SavedViewUpdateSerializer,
    responses={200: SavedViewSerializer, 400: FIELD_ERRORS, 403: NOT_FOUND, 404: NOT_FOUND},
)
@extend_schema(
    methods=["DELETE"],
    operation_id="saved_views_delete",
    responses={200: SavedViewSerializer, 403: NOT_FOUND, 404: NOT_FOUND},
)
@api_view(["GET", "PATCH", "DELETE"])
@permission_classes([IsPortalUser])
def view_detail(request, view_id: int):
    # A view the user may not see is not found, whoever owns it.
    view = selectors.saved_view_get(view_id=view_id, user=request.user)
    if view is None:
        raise NotFound("No such saved view.")
    if request.method == "GET":
        return Response(saved_view_data(view, request.user))
    try:
        if request.method == "DELETE":
            # Answered with the view as it was: every answer of the API has a body.
            deleted = saved_view_data(view, request.user)
            services.saved_view_delete(view_id=view_id, actor=request.user)
            return Response(deleted)
        serializer = SavedViewUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        view = services.saved_view_update(
            view_id=view_id, actor=request.user, **serializer.validated_data
        )
    except PermissionDenied as err:
        raise Forbidden(str(err)) from None
    except ValidationError as err:
        return Response(err.message_dict, status=400)
    return Response(saved_view_data(view, request.user))
