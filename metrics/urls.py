from django.urls import path

from metrics import api, views

urlpatterns = [
    path("metrics/", views.metric_list, name="metric-list"),
    path("metrics/<slug:slug>/", views.metric_detail, name="metric-detail"),
    path("metrics/<slug:slug>/data.csv", views.metric_data_csv, name="metric-data-csv"),
    path("dashboards/", views.dashboard_list, name="dashboard-list"),
    path("dashboards/<slug:slug>/", views.dashboard_detail, name="dashboard-detail"),
    path("api/metrics/", api.metric_list, name="api-metric-list"),
    path("api/metrics/<slug:slug>", api.metric_detail, name="api-metric-detail"),
    path("api/metrics/<slug:slug>/data", api.metric_data, name="api-metric-data"),
    path("api/dashboards/", api.dashboard_list, name="api-dashboard-list"),
    path("api/dashboards/<slug:slug>", api.dashboard_detail, name="api-dashboard-detail"),
]
