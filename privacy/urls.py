from django.urls import path

from privacy import api, restricted_views, views

urlpatterns = [
    path("finance/", restricted_views.finance, name="finance"),
    path("support/", restricted_views.support, name="support"),
    path("privacy/", views.home, name="privacy-home"),
    path("privacy/consent/", views.consent, name="privacy-consent"),
    path("privacy/dsar/", views.dsar_list, name="privacy-dsar-list"),
    path("privacy/dsar/<int:request_id>/", views.dsar_detail, name="privacy-dsar-detail"),
    path("privacy/dsar/<int:request_id>/approve", views.dsar_approve, name="privacy-dsar-approve"),
    path("privacy/dsar/<int:request_id>/run", views.dsar_run, name="privacy-dsar-run"),
    path("privacy/dsar/<int:request_id>/preview", views.dsar_preview, name="privacy-dsar-preview"),
    path("privacy/dsar/<int:request_id>/verify", views.dsar_verify, name="privacy-dsar-verify"),
    path("privacy/dsar/<int:request_id>/extend", views.dsar_extend, name="privacy-dsar-extend"),
    path("privacy/dsar/<int:request_id>/close", views.dsar_close, name="privacy-dsar-close"),
    path("privacy/dsar/<int:request_id>/export", views.dsar_export, name="privacy-dsar-export"),
    path(
        "privacy/dsar/<int:request_id>/certificate",
        views.dsar_certificate,
        name="privacy-dsar-certificate",
    ),
    path("privacy/pii/", views.pii, name="privacy-pii"),
    path("privacy/retention/", views.retention, name="privacy-retention"),
    path("privacy/audit/", views.audit, name="privacy-audit"),
    # Any path segment is routed: the API answers a malformed id with a JSON 400 naming
    # identity_id (privacy.api), not with the HTML 404 page a stricter converter would give.
    path("api/consent/<str:identity_id>", api.consent_detail, name="api-consent"),
    path(
        "api/consent/<str:identity_id>/pixels",
        api.consent_pixels,
        name="api-consent-pixels",
    ),
    path("api/privacy/dsar/", api.dsar_list, name="api-dsar-list"),
    path("api/privacy/dsar/<int:request_id>", api.dsar_detail, name="api-dsar-detail"),
    path("api/privacy/dsar/<int:request_id>/approve", api.dsar_approve, name="api-dsar-approve"),
    path("api/privacy/dsar/<int:request_id>/run", api.dsar_run, name="api-dsar-run"),
    path("api/privacy/dsar/<int:request_id>/preview", api.dsar_preview, name="api-dsar-preview"),
    path("api/privacy/dsar/<int:request_id>/verify", api.dsar_verify, name="api-dsar-verify"),
    path("api/privacy/dsar/<int:request_id>/extend", api.dsar_extend, name="api-dsar-extend"),
    path("api/privacy/dsar/<int:request_id>/reject", api.dsar_reject, name="api-dsar-reject"),
    path("api/privacy/dsar/<int:request_id>/cancel", api.dsar_cancel, name="api-dsar-cancel"),
    path("api/privacy/dsar/<int:request_id>/export", api.dsar_export, name="api-dsar-export"),
    path("api/privacy/pii", api.pii_allowlist, name="api-privacy-pii"),
]
