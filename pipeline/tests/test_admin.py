"""Threshold overrides in the admin: validated, attributed, used by the next run."""

import pytest
from django.contrib.auth.models import User

from pipeline import selectors
from pipeline.models import ThresholdOverride

pytestmark = pytest.mark.django_db

URL = "/admin/pipeline/thresholdoverride/add/"


@pytest.fixture
def admin(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return user


def test_an_override_replaces_the_setting_until_deleted(client, admin, settings):
    assert selectors.thresholds().lag_silver_p95_budget_s == 300.0
    response = client.post(URL, {"name": "lag_silver_p95_budget_s", "value": "600", "note": "x"})
    assert response.status_code == 302
    override = ThresholdOverride.objects.get()
    assert override.updated_by == admin
    assert selectors.thresholds().lag_silver_p95_budget_s == 600.0
    override.delete()
    assert selectors.thresholds().lag_silver_p95_budget_s == 300.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("loss_min_ratio", "95", "is a share and must be at most 1"),
        ("min_bucket_events", "10.5", "must be a whole number"),
        ("settle_minutes", "0", "must be above 0"),
    ],
)
def test_nonsense_is_refused(client, admin, name, value, message):
    response = client.post(URL, {"name": name, "value": value})
    assert response.status_code == 200 and message in response.content.decode()
    assert not ThresholdOverride.objects.exists()
