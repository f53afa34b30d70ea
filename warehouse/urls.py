from django.urls import path

from warehouse import api, views

urlpatterns = [
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("api/queries", api.query_submit, name="api-query-submit"),
    path("api/runs/<int:run_id>", api.run_detail, name="api-run-detail"),
]
