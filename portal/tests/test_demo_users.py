import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from portal.roles import Access, Role, data_scope, user_roles


@pytest.mark.django_db
def test_demo_users_one_per_role_and_rerun_is_safe():
    call_command("demo_users", "--password", "pw-1")
    call_command("demo_users", "--password", "pw-2")
    for role in Role:
        user = authenticate(username=role.value, password="pw-2")
        assert user is not None, role
        assert role in user_roles(user)
    assert authenticate(username="analyst", password="pw-1") is None
    analyst = authenticate(username="analyst", password="pw-2")
    assert user_roles(analyst) == {Role.ANALYST}
    assert data_scope(analyst) == {Access.GENERAL}
    admin = authenticate(username="admin", password="pw-2")
    assert data_scope(admin) == set(Access)
