import pytest
from django.contrib.auth.models import User

from tests.support.users import user_with_role


@pytest.fixture
def ana(db) -> User:
    return user_with_role("analyst", "ana")


@pytest.fixture
def bob(db) -> User:
    return user_with_role("analyst", "bob")
