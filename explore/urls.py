from django.urls import path

from explore import api, views

urlpatterns = [
    path("explore/", views.explore, name="explore"),
    path("explore/export.csv", views.export, {"fmt": "csv"}, name="explore-export-csv"),
    path("explore/export.xlsx", views.export, {"fmt": "xlsx"}, name="explore-export-xlsx"),
    path("api/explore/data", api.explore_data, name="api-explore-data"),
    path(
        "api/metrics/<slug:slug>/values/<slug:dimension>",
        api.metric_values,
        name="api-metric-values",
    ),
]
