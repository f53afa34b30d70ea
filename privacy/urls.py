from django.urls import path, register_converter

from privacy import api, restricted_views, views


class SubjectIdConverter:
    """Identity and user ids in URLs (see privacy.models.ID_PATTERN)."""

    regex = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SubjectIdConverter, "subject_id")

urlpatterns = [
    path("finance/", restricted_views.finance, name="finance"),
    path("support/", restricted_views.support, name="support"),
    path("privacy/", views.home, name="privacy-home"),
    path("privacy/consent/", views.consent, name="privacy-consent"),
    path("privacy/dsar/", views.dsar_list, name="privacy-dsar-list"),
    path("privacy/dsar/<int:request_id>/", views.dsar_detail, name="privacy-dsar-detail"),
    path("privacy/dsar/<int:request_id>/approve", views.dsar_approve, name="privacy-dsar-approve"),
    path("privacy/dsar/<int:request_id>/run", views.dsar_run, name="privacy-dsar-run"),
    path("privacy/pii/", views.pii, name="privacy-pii"),
    path("privacy/retention/", views.retention, name="privacy-retention"),
    path("privacy/audit/", views.audit, name="privacy-audit"),
    path("api/consent/<subject_id:identity_id>", api.consent_detail, name="api-consent"),
    path(
        "api/consent/<subject_id:identity_id>/pixels",
        api.consent_pixels,
        name="api-consent-pixels",
    ),
    path("api/privacy/dsar/", api.dsar_list, name="api-dsar-list"),
    path("api/privacy/dsar/<int:request_id>", api.dsar_detail, name="api-dsar-detail"),
    path("api/privacy/dsar/<int:request_id>/approve", api.dsar_approve, name="api-dsar-approve"),
    path("api/privacy/dsar/<int:request_id>/run", api.dsar_run, name="api-dsar-run"),
    path("api/privacy/pii", api.pii_allowlist, name="api-privacy-pii"),
]
