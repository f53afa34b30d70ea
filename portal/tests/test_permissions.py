"""One authorization idiom: pages, the API, services, templates and the navigation all answer
from portal.roles.CAPABILITIES, and no app writes its own role check."""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import Client

from portal.navigation import SECTIONS
from portal.permissions import allows, capability_required
from portal.roles import CAPABILITIES, Capability, Grant, Role, capabilities, may
from tests.support.users import user_with_role

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "warehouse", "metrics", "experiments", "privacy", "pipeline", "alerts")


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_refused_page_gives_the_capabilitys_reason_and_holders_pass(rf):
    view = capability_required(Capability.PIPELINE_TRIAGE)(lambda request: HttpResponse("ok"))
    request = rf.post("/")
    request.user = user_with_role("analyst")
    assert view(request).content == b"ok"
    request.user = user_with_role("pm")
    with pytest.raises(PermissionDenied) as refused:
        view(request)
    assert str(refused.value) == "Only admins and analysts triage dead letters."


@pytest.mark.django_db
def test_the_api_permission_and_may_agree_with_the_table(rf):
    pm, support = user_with_role("pm"), user_with_role("support")
    for capability, grant in CAPABILITIES.items():
        permission = allows(capability)()
        for user in (pm, support):
            request = rf.get("/api/")
            request.user = user
            expected = bool({Role(g.name) for g in user.groups.all()} & grant.roles)
            assert permission.has_permission(request, None) is expected, (capability, user)
            assert may(user, capability) is expected, (capability, user)


@pytest.mark.django_db
def test_pages_api_templates_and_navigation_follow_a_change_of_the_table(monkeypatch):
    """Give experiments to support alone: support may open and create them, PMs may not, in
    every place at once."""
    monkeypatch.setitem(CAPABILITIES, Capability.EXPERIMENTS_READ, Grant(frozenset({Role.SUPPORT})))
    monkeypatch.setitem(
        CAPABILITIES, Capability.EXPERIMENTS_WRITE, Grant(frozenset({Role.SUPPORT}))
    )
    support, pm = _login(user_with_role("support")), _login(user_with_role("pm"))

    page = support.get("/experiments/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "New experiment" in body  # the template's can.experiments_write
    assert '<a href="/experiments/"' in body  # the navigation
    assert page.context["can"]["experiments_write"] is True
    assert support.get("/api/experiments").status_code == 200

    refused = pm.get("/experiments/")
    assert refused.status_code == 403
    assert "Your role does not allow this." in refused.content.decode()
    assert pm.get("/api/experiments").status_code == 403
    assert '<a href="/experiments/"' not in pm.get("/metrics/").content.decode()


@pytest.mark.django_db
def test_templates_see_exactly_the_users_capabilities(client):
    user = user_with_role("analyst")
    client.force_login(user)
    can = client.get("/experiments/").context["can"]
    assert {c for c in Capability if can[c.value]} == capabilities(user)
    assert can["experiments_read"] and can["experiments_storage"]
    assert not can["experiments_write"] and not can["privacy"]


def test_each_navigation_section_shows_to_the_holders_of_its_capability():
    for section in SECTIONS:
        if section.capability is None:
            assert section.roles == frozenset(Role), section.label
        else:
            assert section.roles == CAPABILITIES[section.capability].roles, section.label


def _production_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if not {"tests", "migrations"} & set(path.relative_to(ROOT).parts):
                yield path


def test_no_app_writes_its_own_role_check():
    """Role checks are capabilities: no copied decorators, no role-set permissions, no can_*
    helpers beside the table (portal/roles.py holds the only ones)."""
    found = []
    for path in _production_modules():
        if path == ROOT / "portal" / "roles.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and (
                node.name in {"role_required", "has_role"} or node.name.startswith("can_")
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} def {node.name}")
    assert not found, "\n".join(found)
