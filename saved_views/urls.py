from django.urls import path

from saved_views import api, views

urlpatterns = [
    path("views/", views.view_list, name="saved-view-list"),
    path("views/<int:view_id>/", views.view_edit, name="saved-view-edit"),
    path("api/views/", api.view_list, name="api-saved-view-list"),
    path("api/views/<int:view_id>", api.view_detail, name="api-saved-view-detail"),
]
