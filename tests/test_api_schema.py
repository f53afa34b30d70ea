"""The API against its own OpenAPI schema (drf-spectacular's, as /api/schema/ serves it), with
schemathesis: generated requests, valid and not, for every operation, as each role that reads
a different API (admin: everything; analyst: metrics, experiments, not queries or privacy;
privacy: consent and DSARs). No answer may be a 5xx, and every answer must conform to the
schema (its status's body and content type).

Bounded: a few examples per operation and role (the whole module takes well under a minute),
and the query wait is 0 s so that a submitted run answers 202 at once (no worker runs in the
test: runs are enqueued on commit, and the test's transaction never commits)."""

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from experiments import services
from experiments.tests.builders import running
from portal.wsgi import application
from privacy.services import consent_set, dsar_file
from tests.support.users import user_with_role
from warehouse.models import QueryRun

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
CSRF_TOKEN = "t" * 32  # SessionAuthentication checks the cookie against the header


# The schema /api/schema/ serves (generated without a request: it does not depend on one).
RAW_SCHEMA = SchemaGenerator().get_schema(public=True)


def _schema(config: dict) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_dict(
        RAW_SCHEMA, config=schemathesis.Config.from_dict(config)
    )
    loaded.app = application
    return loaded


# An admin reaches every operation: explicit examples, the coverage phase (boundary and invalid
# values of each parameter, other methods) and fuzzing.
admin_schema = _schema({"generation": {"max-examples": 8}})
# The other roles mostly meet 403 (and 404): a few fuzzed requests each show those conform too.
role_schema = _schema(
    {"phases": {"coverage": {"enabled": False}}, "generation": {"max-examples": 3}}
)
HYPOTHESIS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def _session(role: str):
    """Cookies of a logged-in user of the role. The WSGI handler closes the database connection
    after each request, which would close the test's transaction: as Django's test client
    does, it is kept open meanwhile."""
    client = Client()
    client.force_login(user_with_role(role))
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF_TOKEN}
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def admin_session(db, settings):
    settings.QUERY_WAIT_SECONDS = 0
    yield from _session("admin")


@pytest.fixture(params=["analyst", "privacy"])
def role_session(request, db, settings):
    settings.QUERY_WAIT_SECONDS = 0
    yield from _session(request.param)


def _call(case, cookies: dict) -> None:
    case.call_and_validate(
        cookies=cookies,
        headers={"X-CSRFToken": CSRF_TOKEN, "Host": "localhost"},
        checks=CHECKS,
    )


@admin_schema.parametrize()
@settings(max_examples=8, **HYPOTHESIS)
def test_the_api_conforms_to_its_schema_for_an_admin(case, admin_session):
    _call(case, admin_session)


@role_schema.parametrize()
@settings(max_examples=3, **HYPOTHESIS)
def test_the_api_conforms_to_its_schema_for_other_roles(case, role_session):
    _call(case, role_session)


def _untyped(node, where: str):
    """Paths of free-form schemas under node: an object with neither properties nor a typed
    additionalProperties (a map of named values of one schema is fine), or an empty schema."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _untyped(item, f"{where}[{i}]")
        return
    if not isinstance(node, dict) or "$ref" in node:
        return
    values = node.get("additionalProperties")
    if node == {} or (node.get("type") == "object" and not node.get("properties") and not values):
        yield where
    for key, value in node.items():
        if key not in ("example", "examples", "description", "default", "enum"):
            yield from _untyped(value, f"{where}.{key}")


def test_no_request_or_response_body_is_free_form():
    found = []
    for path, operations in RAW_SCHEMA["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            body = operation.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                found += _untyped(content.get("schema", {}), f"{where} request {media}")
            for status, response in operation["responses"].items():
                content = response.get("content")
                if status.startswith("2") and not content:
                    found.append(f"{where} {status}: no body schema")
                for media_content in (content or {}).values():
                    found += _untyped(media_content.get("schema", {}), f"{where} {status}")
    for name, component in RAW_SCHEMA["components"]["schemas"].items():
        found += _untyped(component, name)
    assert found == []


def test_answers_about_real_objects_conform(admin_session, settings, tmp_path):
    """Generated ids rarely name an object: the detail answers of real ones (an experiment with
    its change log, a DSAR, a consent, a failed run) are checked against the schema too."""
    admin = User.objects.get(username="admin-user")
    killed = running("exp_schema")
    services.experiment_kill(experiment=killed, user=admin, reason="Bug in variant")
    dsar = dsar_file(
        identity_id="idn_3fa9c01b2e7d", reason="Art. 17", requester=admin, enqueue=False
    )
    settings.LAKE_ROOT = tmp_path / "lake"  # the consent change is written to a lake
    consent_set(identity_id="idn_3fa9c01b2e7d", flags={"marketing": True}, source="api", actor="t")
    run = QueryRun.objects.create(
        engine="duckdb", sql_hash="0" * 16, canonical_sql="SELECT 1", scope="general",
        cache_key="schema", requested_by=admin, status=QueryRun.Status.FAILED, error="boom",
        finished_at=timezone.now(),
    )  # fmt: skip
    calls = [
        ("/api/experiments", {}),
        ("/api/experiments/{key}", {"key": "exp_schema"}),
        ("/api/experiments/{key}/results", {"key": "exp_schema"}),
        ("/api/privacy/dsar/", {}),
        ("/api/privacy/dsar/{request_id}", {"request_id": dsar.pk}),
        ("/api/consent/{identity_id}", {"identity_id": "idn_3fa9c01b2e7d"}),
        ("/api/runs/{run_id}", {"run_id": run.pk}),
    ]
    for path, parameters in calls:
        case = admin_schema[path]["GET"].Case(path_parameters=parameters)
        response = case.call_and_validate(
            cookies=admin_session, headers={"Host": "localhost"}, checks=CHECKS
        )
        assert response.status_code == 200, path


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    """drf-spectacular's own check: a view or field it cannot describe is a warning (an enum
    choice set added without a name in ENUM_NAME_OVERRIDES too)."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
