from django.urls import path

from annotations import api

urlpatterns = [
    path("api/annotations", api.annotation_list, name="api-annotation-list"),
    path("api/annotations/notes", api.note_create, name="api-note-create"),
    path("api/annotations/notes/<int:note_id>", api.note_detail, name="api-note-detail"),
]
