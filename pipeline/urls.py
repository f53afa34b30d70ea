from django.urls import path

from pipeline import views

urlpatterns = [
    path("pipeline/", views.overview, name="pipeline-overview"),
    path("pipeline/dead-letters/", views.dead_letters, name="pipeline-dead-letters"),
    path(
        "pipeline/dead-letters/<int:pk>/triage/",
        views.dead_letter_triage,
        name="pipeline-dead-letter-triage",
    ),
    path("pipeline/schemas/", views.schema_list, name="pipeline-schemas"),
    path("pipeline/schemas/<str:event>/", views.schema_detail, name="pipeline-schema"),
]
