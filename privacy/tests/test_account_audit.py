"""Changes of users, groups (roles) and permissions land in the privacy audit log, with who made
them: through the admin site (the request's user), a management command, or code."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from privacy.models import AuditEvent

pytestmark = pytest.mark.django_db


def events(*actions: str) -> list[tuple[str, str, dict]]:
    rows = AuditEvent.objects.order_by("pk")
    if actions:
        rows = rows.filter(action__in=actions)
    return [(e.action, e.actor, e.detail) for e in rows]


@pytest.fixture
def admin_client() -> Client:
    root = User.objects.create_superuser("root", password="pw-root-1234")
    client = Client()
    client.force_login(root)
    return client


def test_the_admin_site_records_who_created_and_changed_a_user(admin_client):
    before = AuditEvent.objects.count()
    # A role (portal.roles); get_or_create: a transactional test elsewhere may have flushed the
    # groups the data migration made.
    analysts = Group.objects.get_or_create(name="analyst")[0]
    added = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "newbie", "password1": "x-Long-pass-1234", "password2": "x-Long-pass-1234",
         "usable_password": "true"},
    )  # fmt: skip
    assert added.status_code == 302, added.content.decode()[:2000]
    newbie = User.objects.get(username="newbie")
    form = {
        "username": "newbie",
        "is_active": "on",
        "is_staff": "on",
        "groups": [analysts.pk],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-12-07",
        "date_joined_1": "04:00:00",
    }
    changed = admin_client.post(f"/admin/auth/user/{newbie.pk}/change/", form)
    assert changed.status_code == 302, changed.content.decode()[:3000]

    recorded = events()[before:]
    assert (
        "user.created",
        "root",
        {"username": "newbie", "is_active": True, "is_staff": False, "is_superuser": False},
    ) in recorded
    assert (
        "user.changed",
        "root",
        {"username": "newbie", "changes": {"is_staff": [False, True]}},
    ) in recorded
    assert ("user.groups", "root", {"username": "newbie", "added": ["analyst"]}) in recorded


def test_memberships_and_permissions_from_either_side_and_deletions():
    ann = User.objects.create_user("ann")
    bob = User.objects.create_user("bob")
    auditors = Group.objects.create(name="auditors")
    view_user = Permission.objects.get(codename="view_user")
    start = AuditEvent.objects.count()

    ann.groups.add(auditors)
    auditors.user_set.add(bob)  # the reverse side
    auditors.permissions.add(view_user)
    bob.user_permissions.add(view_user)
    auditors.user_set.clear()
    ann.is_superuser = True
    ann.save()
    ann.save(update_fields=["last_login"])  # a login: nothing to record
    auditors.name = "auditors-emea"
    auditors.save()
    auditors.delete()
    bob.delete()

    who = "system"  # no request, no management command: code (a shell, a migration, a test)
    assert events()[start:] == [
        ("user.groups", who, {"username": "ann", "added": ["auditors"]}),
        ("user.groups", who, {"username": "bob", "added": ["auditors"]}),
        ("group.permissions", who, {"group": "auditors", "added": ["auth.view_user"]}),
        ("user.permissions", who, {"username": "bob", "added": ["auth.view_user"]}),
        ("user.groups", who, {"username": "ann", "removed": ["auditors"]}),
        ("user.groups", who, {"username": "bob", "removed": ["auditors"]}),
        ("user.changed", who, {"username": "ann", "changes": {"is_superuser": [False, True]}}),
        ("group.changed", who, {"group": "auditors-emea", "renamed_from": "auditors"}),
        ("group.deleted", who, {"group": "auditors-emea"}),
        ("user.deleted", who, {"username": "bob"}),
    ]


def test_a_change_rolled_back_leaves_no_audit_event():
    from django.db import transaction

    start = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create_user("ghost")
        raise RuntimeError
    assert AuditEvent.objects.count() == start


def test_a_management_command_is_named_as_the_actor(monkeypatch):
    monkeypatch.setattr("sys.argv", ["manage.py", "demo_users"])
    start = AuditEvent.objects.count()
    User.objects.create_user("cli-made")
    assert events()[start:][0][:2] == ("user.created", "manage.py demo_users")
