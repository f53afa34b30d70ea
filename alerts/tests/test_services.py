import pytest
from django.core import mail

from alerts.models import Alert
from alerts.services import alert_raise, alert_resolve

pytestmark = pytest.mark.django_db


def raise_srm(**overrides):
    kwargs = {
        "key": "srm:exp_a",
        "source": "experiments",
        "severity": "alarm",
        "title": "Sample ratio mismatch in exp_a",
        "values": {"p_value": 1e-5},
        **overrides,
    }
    return alert_raise(**kwargs)


def test_a_breach_opens_one_alert_and_one_email(settings, django_capture_on_commit_callbacks):
    settings.ALERT_EMAILS = ["data-team@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        first, opened = raise_srm()
    with django_capture_on_commit_callbacks(execute=True):
        again, opened_again = raise_srm(values={"p_value": 1e-7})
    assert opened and not opened_again
    assert again.pk == first.pk and again.updates == 1 and again.values == {"p_value": 1e-7}
    assert Alert.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[portal alarm] Sample ratio mismatch in exp_a"
    assert mail.outbox[0].to == ["data-team@example.com"]


def test_recovery_closes_and_a_new_breach_opens_a_new_alert(
    settings, django_capture_on_commit_callbacks
):
    settings.ALERT_EMAILS = ["data-team@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        first, _ = raise_srm()
    closed = alert_resolve(key="srm:exp_a")
    assert closed.pk == first.pk and closed.closed_at is not None
    assert alert_resolve(key="srm:exp_a") is None
    with django_capture_on_commit_callbacks(execute=True):
        second, opened = raise_srm()
    assert opened and second.pk != first.pk
    assert len(mail.outbox) == 2


def test_feed_lists_open_alerts_first(client, django_assert_max_num_queries):
    from tests.support.users import user_with_role

    raise_srm(key="srm:old", title="old breach")
    alert_resolve(key="srm:old")
    raise_srm(key="loss:day", source="pipeline", title="event loss 91%")
    client.force_login(user_with_role("analyst"))
    with django_assert_max_num_queries(5):
        body = client.get("/alerts/").content.decode()
    assert body.index("event loss 91%") < body.index("old breach")
    assert "pipeline" in client.get("/alerts/?source=pipeline").content.decode()
    assert "old breach" not in client.get("/alerts/?source=pipeline").content.decode()
