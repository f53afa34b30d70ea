from django.urls import path

from experiments import api, views

urlpatterns = [
    path("experiments/", views.experiment_list, name="experiment-list"),
    path("experiments/new/", views.experiment_create, name="experiment-create"),
    path("experiments/mde/", views.mde_calculator, name="experiment-mde"),
    path("experiments/<slug:key>/", views.experiment_detail, name="experiment-detail"),
    path("experiments/<slug:key>/edit/", views.experiment_edit, name="experiment-edit"),
    path("experiments/<slug:key>/launch/", views.experiment_launch, name="experiment-launch"),
    path("experiments/<slug:key>/kill/", views.experiment_kill, name="experiment-kill"),
    path("experiments/<slug:key>/conclude/", views.experiment_conclude, name="experiment-conclude"),
    path("experiments/<slug:key>/results/", views.experiment_results, name="experiment-results"),
    path(
        "experiments/<slug:key>/results/refresh/",
        views.experiment_results_refresh,
        name="experiment-results-refresh",
    ),
    path("api/stats/compare", api.stats_compare, name="api-stats-compare"),
    path("api/stats/mde", api.stats_mde, name="api-stats-mde"),
    path("api/stats/baseline", api.stats_baseline, name="api-stats-baseline"),
    path("api/experiments", api.experiment_list, name="api-experiment-list"),
    path("api/experiments/<slug:key>", api.experiment_detail, name="api-experiment-detail"),
    path(
        "api/experiments/<slug:key>/results",
        api.experiment_results,
        name="api-experiment-results",
    ),
    path(
        "api/experiments/<slug:key>/assignment",
        api.assignment,
        name="api-experiment-assignment",
    ),
]
