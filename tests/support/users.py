"""Users and logged-in clients of the tests, and the fixtures every app shares (registered in
the root conftest.py): one definition each, not one per test module."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client


def user_with_role(role: str, username: str | None = None) -> User:
    """A user holding one role (groups are re-created: transactional tests flush them)."""
    user = User.objects.create_user(username or f"{role}-user", password="pw")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def client_for(role: str) -> Client:
    """A client logged in as a new user holding ``role``."""
    client = Client()
    client.force_login(user_with_role(role))
    return client


@pytest.fixture
def analyst_user(db) -> User:
    return user_with_role("analyst")


@pytest.fixture
def analyst(analyst_user: User) -> Client:
    """A client logged in as ``analyst_user``. Pages over the lake also want ``lake_settings``."""
    client = Client()
    client.force_login(analyst_user)
    return client
