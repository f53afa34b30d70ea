"""Logged-in clients that write notes as a browser does: with the CSRF token."""

from django.test import Client

NOTES = "/api/annotations/notes"


def client_of(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/metrics/")  # sets the CSRF cookie
    return client


def send(client: Client, method: str, path: str, body: dict | None = None):
    token = client.cookies["csrftoken"].value
    return getattr(client, method)(
        path, body or {}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
