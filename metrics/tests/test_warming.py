"""Which scopes warming computes tiles for, and at what cost in queries."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.warming import scopes_in_use
from portal.roles import Access
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


def test_scopes_in_use_reads_users_and_roles_in_two_queries():
    for i in range(48):
        user_with_role(("analyst", "pm", "support", "finance")[i % 4], username=f"user{i}")
    User.objects.create_user("left", is_active=False).groups.add(
        user_with_role("privacy", username="privacy-user").groups.get()
    )
    User.objects.create_superuser("root", password="pw")
    with CaptureQueriesContext(connection) as queries:
        scopes = scopes_in_use()
    assert len(queries) <= 2, [q["sql"] for q in queries]
    assert scopes == {
        frozenset({Access.GENERAL}),
        frozenset({Access.GENERAL, Access.SUPPORT_VIEW}),
        frozenset({Access.GENERAL, Access.FINANCE_VIEW}),
        frozenset({Access.GENERAL, Access.PRIVACY_VIEW}),
        frozenset(Access),
    }
