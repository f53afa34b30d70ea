"""The annotations API: what the charts mark in a window, and people's notes (only their author
changes or deletes one: 403 for anyone else)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from annotations import services
from annotations.selectors import annotations_in, note_visible
from annotations.serializers import (
    AnnotationListSerializer,
    AnnotationWindowSerializer,
    NoteCreateSerializer,
    NoteSerializer,
    NoteUpdateSerializer,
)
from portal.schema import FIELD_ERRORS, NOT_FOUND

NOT_THE_AUTHOR = OpenApiResponse(
    inline_serializer("NotTheAuthor", {"detail": serializers.CharField()}),
    description="The note is someone else's.",
)


@extend_schema(
    operation_id="annotation_list",
    parameters=[AnnotationWindowSerializer],
    responses={200: AnnotationListSerializer, 400: FIELD_ERRORS},
)
@api_view(["GET"])
def annotation_list(request):
    """Experiment launches, kills and conclusions (for roles that may open experiments),
    pipeline alarms raised and resolved (for roles that may read pipeline health) and notes
    between start and end, both days included, by time. Notes: those on every chart, plus those
    of `metric`, or of `dashboard` and of the metrics of its tiles (each says its metric)."""
    window = AnnotationWindowSerializer(data=request.query_params)
    window.is_valid(raise_exception=True)
    data = window.validated_data
    items = annotations_in(
        start=data["start"],
        end=data["end"],
        user=request.user,
        metric=data["metric"],
        dashboard=data["dashboard"],
    )
    answer = {"start": data["start"], "end": data["end"], "items": items}
    return Response(AnnotationListSerializer(answer, context={"user": request.user}).data)


@extend_schema(
    operation_id="note_create",
    request=NoteCreateSerializer,
    responses={201: NoteSerializer, 400: FIELD_ERRORS},
)
@api_view(["POST"])
def note_create(request):
    """Write a note: on every chart, or on one metric's or one dashboard's charts."""
    given = NoteCreateSerializer(data=request.data)
    given.is_valid(raise_exception=True)
    note = services.note_create(author=request.user, **given.validated_data)
    return Response(NoteSerializer(note, context={"user": request.user}).data, status=201)


@extend_schema(methods=["GET"], operation_id="note_retrieve")
@extend_schema(
    methods=["PATCH"],
    operation_id="note_update",
    request=NoteUpdateSerializer,
    responses={200: NoteSerializer, 400: FIELD_ERRORS, 403: NOT_THE_AUTHOR, 404: NOT_FOUND},
)
@extend_schema(
    methods=["DELETE"],
    operation_id="note_destroy",
    responses={200: NoteSerializer, 403: NOT_THE_AUTHOR, 404: NOT_FOUND},
)
@extend_schema(responses={200: NoteSerializer, 404: NOT_FOUND})
@api_view(["GET", "PATCH", "DELETE"])
def note_detail(request, note_id: int):
    """A note; its author may change its time or text, or delete it (the answer is the note as
    it was)."""
    note = note_visible(note_id, request.user)
    if note is None:
        raise NotFound("No such note.")
    context = {"user": request.user}
    if request.method == "DELETE":
        gone = NoteSerializer(note, context=context).data
        services.note_delete(note=note, user=request.user)
        return Response(gone)  # the note as it was, so the client can say what went
    if request.method == "PATCH":
        given = NoteUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        note = services.note_update(note=note, user=request.user, **given.validated_data)
    return Response(NoteSerializer(note, context=context).data)
