from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from portal import views

urlpatterns = [
    path("", include("home.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/live", views.liveness, name="healthz-live"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("warehouse.urls")),
    path("", include("alerts.urls")),
    path("", include("metrics.urls")),
    path("", include("experiments.urls")),
    path("", include("privacy.urls")),
    path("", include("pipeline.urls")),
    path("", include("explore.urls")),
    path("", include("annotations.urls")),
    path("", include("saved_views.urls")),
]

handler400 = "portal.errors.bad_request"
handler403 = "portal.errors.permission_denied"
handler404 = "portal.errors.page_not_found"
handler500 = "portal.errors.server_error"
