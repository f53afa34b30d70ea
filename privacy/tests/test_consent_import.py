"""manage.py consent_import: the lake's consent history into the portal, once per change."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from privacy.models import ConsentChange, ConsentState
from privacy.tests.conftest import read_table
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


def test_import_copies_every_change_once_and_rebuilds_consent(lake_settings):
    out = io.StringIO()
    call_command("consent_import", stdout=out)
    lake = read_table(lake_settings, "consent_changes")
    assert out.getvalue().startswith(f"{len(lake)} consent changes read")
    assert ConsentChange.objects.count() == len(lake)
    call_command("consent_import", stdout=io.StringIO())  # again: nothing doubles
    assert ConsentChange.objects.count() == len(lake)

    latest = lake.sort_values(["changed_ts", "change_id"]).groupby(["identity_id", "flag"]).last()
    assert ConsentState.objects.count() == lake["identity_id"].nunique()
    for identity_id in lake["identity_id"].drop_duplicates().sample(25, random_state=1):
        state = ConsentState.objects.get(identity_id=identity_id)
        flags = latest.loc[identity_id, "value"].to_dict()
        for flag in ("marketing", "analytics", "personalization"):
            assert getattr(state, flag) == bool(flags.get(flag, False)), (identity_id, flag)

    client = Client()
    client.force_login(user_with_role("privacy"))
    identity_id = lake.loc[lake["value"] & (lake["flag"] == "marketing"), "identity_id"].iloc[-1]
    expected = bool(latest.loc[(identity_id, "marketing"), "value"])
    assert client.get(f"/api/consent/{identity_id}").json()["marketing"] is expected


def test_bad_dates_are_refused(lake_settings):
    with pytest.raises(CommandError, match="must not be after"):
        call_command("consent_import", "--start", "2026-02-01", "--end", "2026-01-01")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("consent_import", "--start", "yesterday")
