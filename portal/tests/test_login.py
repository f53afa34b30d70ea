import pytest
from django.contrib.auth.models import User

from tests.support.users import user_with_role


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/runs/", "/admin/"])
def test_pages_redirect_anonymous_users_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/runs/1", "/api/schema/"])
def test_api_refuses_anonymous_users_without_a_redirect(client, path):
    response = client.get(path)
    assert response.status_code in (401, 403)
    assert "Location" not in response


@pytest.mark.django_db
def test_home_shows_roles_and_scope(client, django_user_model):
    client.force_login(user_with_role("finance"))
    body = client.get("/").content.decode()
    assert "Your roles: finance." in body
    assert "finance_view, general" in body


@pytest.mark.django_db
def test_login_form_logs_in_with_csrf(django_user_model):
    from django.test import Client

    User.objects.create_user("ann", password="s3cret-pass")
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    refused = client.post("/login/", {"username": "ann", "password": "s3cret-pass"})
    assert refused.status_code == 403
    ok = client.post(
        "/login/", {"username": "ann", "password": "s3cret-pass", "csrfmiddlewaretoken": token}
    )
    assert ok.status_code == 302 and ok["Location"] == "/"
