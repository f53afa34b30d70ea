"""One input error (core.errors.InputError) and one DRF exception handler: wherever the input is
checked (a parser, a pure core, a service), the API answers 400 {"<field>": ["<problem>"]}."""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory

from core.errors import InputError, LimitReached
from tests.support.users import user_with_role

ROOT = Path(__file__).resolve().parents[2]


@api_view(["GET"])
@permission_classes([AllowAny])
def _refusing(request):
    raise InputError("variants[1].n", "must be at least 1")


def test_the_handler_answers_an_input_error_as_400_naming_the_field():
    assert settings.REST_FRAMEWORK["EXCEPTION_HANDLER"] == "portal.errors.api_exception_handler"
    response = _refusing(APIRequestFactory().get("/api/x"))
    response.render()
    assert response.status_code == 400
    assert response.data == {"variants[1].n": ["must be at least 1"]}


@pytest.mark.parametrize(
    ("method", "url", "body", "field", "problem"),
    [
        # warehouse.params (query parameters), metrics.params, the statistics' pure core
        ("post", "/api/queries", {"sql": "SELECT 1", "params": {"d": {"type": "date",
         "value": "soon"}}}, "params.d.value", "'soon' is not a valid date"),
        ("get", "/api/metrics/refund_rate/data?start=2026-01-03&end=2026-01-02", None, "end",
         "must not be before start"),
        ("post", "/api/stats/compare", {"metric_type": "proportion", "alpha": 2,
         "weights": [0.5, 0.5], "variants": []}, "alpha", "must be strictly between 0 and 1"),
    ],
)  # fmt: skip
def test_every_checker_answers_the_same_shape(db, client, method, url, body, field, problem):
    client.force_login(user_with_role("admin"))
    if method == "post":
        response = client.post(url, body, content_type="application/json")
    else:
        response = client.get(url)
    assert response.status_code == 400
    assert response.json() == {field: [problem]}


def test_no_api_view_maps_input_errors_by_hand():
    """The handler is the one place: no api.py catches InputError."""
    for path in ROOT.glob("*/api.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                assert "InputError" not in ast.unparse(node.type), path


def test_unterminated_sql_is_a_400_naming_sql(db, client):
    """Found by schemathesis: sqlglot's tokenizer error was a 500."""
    client.force_login(user_with_role("admin"))
    response = client.post("/api/queries", {"sql": "SELECT 'a"}, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["sql"]
    assert response.json()["sql"][0].startswith("SQL does not parse")


class _Quota(LimitReached):
    def payload(self) -> dict:
        return {**super().payload(), "limit": 3, "in_flight": 3}


@api_view(["GET"])
@permission_classes([AllowAny])
def _over_quota(request):
    raise _Quota("The limit is 3 per person.")


@api_view(["GET"])
@permission_classes([AllowAny])
def _refused_with_a_reason(request):
    raise DjangoPermissionDenied("You do not have access to the data this query reads.")


def test_a_limit_reached_in_a_service_is_a_429_with_its_numbers_as_numbers():
    response = _over_quota(APIRequestFactory().get("/api/x"))
    assert response.status_code == 429
    assert response.data == {"detail": "The limit is 3 per person.", "limit": 3, "in_flight": 3}


def test_a_services_permission_denied_keeps_its_reason():
    response = _refused_with_a_reason(APIRequestFactory().get("/api/x"))
    assert response.status_code == 403
    assert response.data == {"detail": "You do not have access to the data this query reads."}
