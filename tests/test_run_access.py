"""Every run label against its page: /api/runs/<id> and the run's page /runs/<id>/ answer a
role only what the page that submitted the run shows that role. Experiments:
experiments/tests/test_run_access.py; the dead-letter samples (masked at the source for
everyone): pipeline/tests/test_views_dead_letters.py.
"""

from datetime import date

import pytest
from django.test import Client

from metrics.catalogue import load_catalogue
from metrics.services import MetricParams, metric_data_submit
from portal.roles import Role
from privacy import services as privacy
from tests.support.users import user_with_role
from warehouse import services as warehouse
from warehouse.lake.contract import Access
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db
EVERYONE = frozenset(Role)


_CLIENTS: dict[Role, Client] = {}


def _client(role: Role) -> Client:
    """One logged-in client per role and test."""
    if role not in _CLIENTS:
        _CLIENTS[role] = Client()
        _CLIENTS[role].force_login(user_with_role(role.value, f"runs-{role.value}"))
    return _CLIENTS[role]


@pytest.fixture(autouse=True)
def _fresh_clients():
    _CLIENTS.clear()


def _run_queued() -> None:
    for run_id in QueryRun.objects.filter(status="queued").values_list("pk", flat=True):
        warehouse.query_run_execute(run_id=run_id)


def _pages() -> None:
    """The runs of the finance and support pages, the privacy team's PII check and a general
    metric, each submitted the way its page or job does."""
    window = "?start=2026-01-18&end=2026-01-31"
    _client(Role.FINANCE).get(f"/finance/{window}")
    _client(Role.SUPPORT).get(f"/support/{window}")
    privacy.payload_scan_run(start=date(2026, 1, 20), end=date(2026, 1, 26))
    metric = load_catalogue().metrics["search_to_view_ctr"]
    assert metric.access_classes == {Access.GENERAL}
    metric_data_submit(
        metric=metric,
        params=MetricParams(start=date(2026, 1, 20), end=date(2026, 1, 26), grain="day"),
        user=user_with_role("analyst", "runs-metric"),
    )
    _run_queued()


# Label prefix -> roles whose page shows that data.
PAGE_ROLES = {
    "finance:": frozenset({Role.FINANCE, Role.ADMIN}),
    "support:": frozenset({Role.SUPPORT, Role.ADMIN}),
    "privacy:": frozenset({Role.PRIVACY, Role.ADMIN}),
    "metric:": EVERYONE,
}


def test_each_run_is_read_by_the_roles_of_its_page_and_no_one_else(lake_settings, settings):
    settings.QUERY_WAIT_SECONDS = 0
    _pages()
    runs = list(QueryRun.objects.filter(status="succeeded"))
    assert {next(p for p in PAGE_ROLES if r.label.startswith(p)) for r in runs} == set(PAGE_ROLES)
    for role in Role:
        client = _client(role)
        for run in runs:
            roles = next(v for p, v in PAGE_ROLES.items() if run.label.startswith(p))
            answer = client.get(f"/api/runs/{run.pk}")
            # The run's page answers exactly as its API does.
            page = client.get(f"/runs/{run.pk}/")
            assert page.status_code == answer.status_code, (role, run.label)
            if role in roles:
                assert answer.status_code == 200, (role, run.label)
                assert answer.json()["result"] is not None, (role, run.label)
            else:
                assert answer.status_code == 403, (role, run.label)
                assert '"result"' not in answer.content.decode(), (role, run.label)
