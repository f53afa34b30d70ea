"""The alerts feed and e-mails by role: an alert reaches only who may open its source
(experiments: analysts, PMs, admins; pipeline: every role; anything else: admins)."""

import pytest
from django.core import mail
from django.test import Client

from alerts.services import alert_raise
from portal.roles import Role
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db
EXPERIMENT_READERS = {Role.ANALYST, Role.PM, Role.ADMIN}


def _raise(key: str, source: str, title: str) -> None:
    alert_raise(key=key, source=source, severity="alarm", title=title, link="/x/")


def test_each_role_sees_the_alerts_of_the_sources_it_may_open(django_assert_max_num_queries):
    for i in range(12):
        _raise(f"srm:exp_{i}", "experiments", f"Sample ratio mismatch in exp_{i}")
        _raise(f"pipeline:loss{i}", "pipeline", f"Event loss {i}")
    _raise("other:x", "billing", "An alert of no registered source")
    for role in Role:
        client = Client()
        client.force_login(user_with_role(role.value, f"feed-{role.value}"))
        with django_assert_max_num_queries(5):  # the same whatever the number of alerts
            body = client.get("/alerts/").content.decode()
        assert body.count("Event loss") == 12, role
        assert body.count("Sample ratio mismatch") == (12 if role in EXPERIMENT_READERS else 0)
        assert ("no registered source" in body) == (role == Role.ADMIN), role
        assert ("?source=experiments" in body) == (role in EXPERIMENT_READERS), role
        asked = client.get("/alerts/?source=experiments").content.decode()
        assert ("Sample ratio mismatch" in asked) == (role in EXPERIMENT_READERS), role


def test_emails_go_only_to_users_who_may_open_the_source(
    settings, django_capture_on_commit_callbacks
):
    support = user_with_role("support", "mail-support")
    pm = user_with_role("pm", "mail-pm")
    support.email, pm.email = "support@example.com", "pm@example.com"
    support.save(), pm.save()
    settings.ALERT_EMAILS = ["support@example.com", "pm@example.com", "team@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        _raise("srm:exp_mail", "experiments", "Sample ratio mismatch in exp_mail")
        _raise("pipeline:lag", "pipeline", "Gold lag")
    sent = {m.subject: m.to for m in mail.outbox}
    assert sent == {
        "[portal alarm] Sample ratio mismatch in exp_mail": ["pm@example.com", "team@example.com"],
        "[portal alarm] Gold lag": ["support@example.com", "pm@example.com", "team@example.com"],
    }
